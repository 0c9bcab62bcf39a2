"""Verification (offline and LLM over HTTP), dictionary merging, outputs, evaluation, and the stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import CONCEPTS, llm_params, run_verify_stage
from llm_fixtures import running_chat_server
from nsparse.data import DataFormatError
from nsparse.data.format import read_verified_dictionary
from nsparse.llm import PromptTemplate, make_generator
from nsparse.synonyms.dictionary import evaluate_pairs, merge_dictionary, write_solr_synonyms, write_verified_dictionary
from nsparse.synonyms.mining import CandidatePair
from nsparse.synonyms.verification import LLMVerifier, VerifiedPair, frequent_terms, offline_verify, parse_judgement

ROOT = Path(__file__).resolve().parents[1]


def candidate(ko: str, en: str, ochiai: float, ko_rank: int, en_rank: int) -> CandidatePair:
    return CandidatePair(ko, en, 10, 12, 12, 50.0, ochiai, ko_rank, en_rank)


def test_offline_verification_needs_mutual_rank_and_bidirectional_strength():
    kept = candidate("파일", "file", 0.8, 1, 1)
    one_sided = candidate("파일", "open", 0.6, 1, 2)
    weak = candidate("셀", "cell", 0.2, 1, 1)
    assert offline_verify([kept, one_sided, weak], rank_window=1, min_ochiai=0.3) == [
        VerifiedPair("파일", "file", 0.8, "mined:offline")
    ]
    assert len(offline_verify([kept, one_sided, weak], rank_window=2, min_ochiai=0.3)) == 2


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"answer": "yes", "confidence": 0.92}', (True, 0.92)),
        ('답: ```json\n{"answer": "No", "confidence": 1}\n```', (False, 1.0)),
        ('{"answer": "maybe", "confidence": 0.9}', None),
        ('{"answer": "yes", "confidence": 1.5}', None),
        ('{"answer": "yes", "confidence": true}', None),
        ('{"answer": "yes"}', None),
        ("yes", None),
    ],
)
def test_parse_judgement_accepts_only_well_formed_verdicts(reply, expected):
    assert parse_judgement(reply) == expected


def verifier(base_url: str, threshold: float) -> LLMVerifier:
    generator = make_generator(llm_params(backend="openai", model="m", base_url=base_url, max_retries=0), seed=None)
    return LLMVerifier(
        generator,
        PromptTemplate.load(ROOT / "prompts/synonym_verify.yaml"),
        PromptTemplate.load(ROOT / "prompts/synonym_propose.yaml"),
        threshold,
    )


def test_llm_verifier_over_http_applies_the_threshold_and_cleans_proposals(tmp_path):
    reply = json.dumps({"answer": "yes", "confidence": 0.9, "english": ["File", "two words", "fichier"]})
    with running_chat_server(tmp_path, default_reply=reply) as base_url:
        assert verifier(base_url, 0.8).propose({"파일": "파일을 연다"}) == [("파일", "file"), ("파일", "fichier")]
        pairs = [("파일", "file", "mined:llm"), ("셀", "cell", "proposed:llm")]
        assert verifier(base_url, 0.8).verify(pairs) == [
            VerifiedPair("파일", "file", 0.9, "mined:llm"),
            VerifiedPair("셀", "cell", 0.9, "proposed:llm"),
        ]
        assert verifier(base_url, 0.95).verify(pairs) == []
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    with running_chat_server(garbled, default_reply="잘 모르겠습니다") as base_url:
        judge = verifier(base_url, 0.8)
        assert judge.verify(pairs) == [] and judge.propose({"파일": ""}) == []
        assert judge.malformed == {"verify": 2, "propose": 1}


def test_dictionary_merges_seed_withholds_codeswitch_terms_and_writes_both_formats(tmp_path):
    verified = [
        VerifiedPair("파일", "file", 0.9, "mined:offline"),
        VerifiedPair("셀", "cell", 0.7, "mined:offline"),
        VerifiedPair("학교", "school", 0.8, "mined:offline"),
    ]
    seed = {"파일": ["File"], "표": ["table", "a,b"]}
    entries, withheld = merge_dictionary(verified, seed, withheld_korean={"학교"})
    assert withheld == 1
    assert [(pair.ko, pair.en, pair.source) for pair in entries] == [
        ("셀", "cell", "mined:offline"),
        ("파일", "file", "muse-seed"),  # the seed wins a tie
        ("표", "a,b", "muse-seed"),
        ("표", "table", "muse-seed"),
    ]
    write_verified_dictionary(tmp_path / "dictionary.tsv", entries)
    assert (tmp_path / "dictionary.tsv").read_text(encoding="utf-8").splitlines()[
        0
    ] == "셀\tcell\t0.7000\tmined:offline"
    assert read_verified_dictionary(tmp_path / "dictionary.tsv") == {
        "셀": ["cell"],
        "파일": ["file"],
        "표": ["a,b", "table"],
    }
    assert write_solr_synonyms(tmp_path / "synonyms.txt", entries) == 3  # "a,b" would split a Solr rule
    assert (tmp_path / "synonyms.txt").read_text(encoding="utf-8").splitlines() == [
        "셀, cell",
        "파일, file",
        "표, table",
    ]


def test_frequent_terms_counts_documents_skips_single_syllables_and_gives_context():
    texts = ["파일 메뉴에서 파일을 엽니다.", "파일과 차트를 고릅니다.", "차트 옆의 표를 봅니다.", "표 아래 파일 메뉴"]
    contexts = frequent_terms(texts, 2)
    # 파일 is in 3 texts; 메뉴 and 차트 tie at 2 and 메뉴 was seen first; 표 (3 texts) has one syllable
    assert list(contexts) == ["파일", "메뉴"]
    assert contexts["파일"] == texts[0] and "메뉴" in contexts["메뉴"]


def test_read_verified_dictionary_names_file_and_line_of_a_bad_row(tmp_path):
    path = tmp_path / "dictionary.tsv"
    path.write_text("파일\tfile\t0.9\tmined:offline\n셀\tcell\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"dictionary.tsv:2: expected 'ko<TAB>en<TAB>score<TAB>source'"):
        read_verified_dictionary(path)
    path.write_text("파일\tfile\thigh\tmined:offline\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"dictionary.tsv:1: score 'high' is not a number"):
        read_verified_dictionary(path)


def test_evaluation_scores_precision_on_covered_terms_and_recall_on_all():
    reference = {"파일": ["file"], "셀": ["cell"], "표": ["table"], "차트": ["chart"]}
    scores = evaluate_pairs([("파일", "file"), ("셀", "row"), ("메뉴", "menu")], reference)
    assert scores == {"pairs": 3, "evaluated": 2, "correct": 1, "precision": 0.5, "recall": 0.25, "reference_pairs": 4}


def test_verify_stage_offline_writes_dictionary_synonyms_and_report(tmp_path):
    folder = run_verify_stage(tmp_path, {"backend": "offline"}, {})
    report = json.loads((folder / "reports/synonyms.json").read_text(encoding="utf-8"))
    assert report["verified"]["offline"] == len(CONCEPTS)
    heldout = report["evaluation"]["heldout"]["offline"]
    assert heldout["precision"] == 1.0 and heldout["recall"] == 1.0  # the two held-out concepts were mined
    lines = (folder / "data/synonyms/dictionary.tsv").read_text(encoding="utf-8").splitlines()
    assert {tuple(line.split("\t")[:2]) for line in lines} == set(CONCEPTS)
    assert report["dictionary"]["by_source"] == {"muse-seed": 2, "mined:offline": 3}
    assert (folder / "data/synonyms/opensearch_synonyms.txt").read_text(encoding="utf-8").count("\n") == len(CONCEPTS)


def test_verify_stage_runs_with_the_tiny_transformers_model(tmp_path, tiny_qwen3):
    llm = {"backend": "transformers", "model": str(tiny_qwen3), "max_new_tokens": 16}
    folder = run_verify_stage(tmp_path, llm, {"llm_max_candidates": 4, "propose_terms": 2})
    report = json.loads((folder / "reports/synonyms.json").read_text(encoding="utf-8"))
    assert report["provenance"]["backend"] == "transformers" and report["candidates"]["llm_verified"] == 4
    assert report["malformed"] == {"verify": 4, "propose": 2}  # a random model writes no verdicts
    assert report["verified"]["llm"] == 0 and report["evaluation"]["heldout"]["llm"]["pairs"] == 0
    assert report["dictionary"]["by_source"] == {"muse-seed": 2}
