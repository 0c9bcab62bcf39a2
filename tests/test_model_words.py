"""Words, not only pieces: `nsparse.model.words` and the word view of `nsparse encode` and `nsparse explain`, on a
tiny model whose vocabulary splits 대한민국 into `대한` `##민국` and "capitals" into `capital` `##s`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from helpers import TINY, encoder_settings, run_cli
from nsparse.model.base import new_masked_lm
from nsparse.model.encoder import SparseEncoder
from nsparse.model.vocabulary import PieceCounter, tokenizer_from_counts
from nsparse.model.words import Word, match_words, text_words, word_pieces

DOCUMENTS = ["서울은 대한민국의 수도이다.", "부산은 대한민국의 항구 도시이다.", "Seoul is the capital of Korea."]
DOC = DOCUMENTS[0]
QUERY = "대한민국 수도 capitals"


def tokenizer_and_stops():
    """A hand-counted morpheme vocabulary: 대한 and ##민국 are pieces but 대한민국 is not; particles are stop pieces."""
    counter = PieceCounter()
    korean = ["대한", "##민국", "서울", "수도", "부산", "항구", "도시"]
    particles = ["##의", "##은", "##이", "##다"]
    counter.pieces = Counter({piece: 5 for piece in korean + particles})
    counter.function = Counter({piece: 5 for piece in particles})
    counter.latin_words = Counter({"seoul": 5, "capital": 5, "korea": 5, "city": 3, "cities": 1})  # spells ##s
    return tokenizer_from_counts(counter, 400, 2)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lexical floor over that vocabulary (gate 0: no transformer), translating 서울 -> seoul, 수도 -> capital."""
    tokenizer, stops = tokenizer_and_stops()
    torch.manual_seed(0)
    settings = encoder_settings(prune_ratio=0.0, max_length=64, passage_overlap=None, query_max_length=64, window=None)
    encoder = SparseEncoder(new_masked_lm(tokenizer, TINY), tokenizer, settings, stop_pieces=stops)
    encoder.set_translations({"서울": [("seoul", 0.8)], "수도": [("capital", 0.7)]})
    encoder.fit_lexical_statistics(DOCUMENTS)
    folder = tmp_path_factory.mktemp("words") / "model"
    encoder.save(folder)
    return folder


def test_the_vocabulary_splits_the_test_words() -> None:
    tokenizer, _ = tokenizer_and_stops()
    assert tokenizer.tokenize("대한민국의 capitals") == ["대한", "##민국", "##의", "capital", "##s"]


def test_words_join_their_pieces_as_written_once_each_in_text_order() -> None:
    tokenizer, _ = tokenizer_and_stops()
    text = "Capitals, 대한민국의 capitals 수도"
    assert word_pieces(tokenizer, text) == [
        ("Capitals", ("capital", "##s")),  # as written; "capitals" later becomes the same pieces
        (",", ("[UNK]",)),
        ("대한민국의", ("대한", "##민국", "##의")),
        ("수도", ("수도",)),
    ]
    weights = {"대한": 2.0, "##민국": 0.5, "capital": 1.0, "수도": 0.25}
    words = text_words(tokenizer, text, weights)  # "," weighs nothing: left out
    assert words == [
        Word("Capitals", ("capital", "##s"), (1.0, 0.0)),
        Word("대한민국의", ("대한", "##민국", "##의"), (2.0, 0.5, 0.0)),
        Word("수도", ("수도",), (0.25,)),
    ]
    assert [word.weight for word in words] == [1.0, 2.5, 0.25]


def test_match_words_counts_a_piece_once_so_words_add_up_to_the_score() -> None:
    words = [
        Word("서울", ("서울",), (1.0,)),
        Word("서울시", ("서울", "##시"), (1.0, 0.5)),
        Word("항구", ("항구",), (2.0,)),
    ]
    contributions = {"서울": 0.6, "##시": 0.1, "seoul": 0.2}
    by_word, rest = match_words(words, contributions)
    assert [(m.word.text, m.matched, m.shared) for m in by_word] == [
        ("서울", ("서울",), ()),
        ("서울시", ("##시",), (("서울", "서울"),)),
        ("항구", (), ()),
    ]
    assert [m.contribution for m in by_word] == pytest.approx([0.6, 0.1, 0.0])
    assert rest == {"seoul": 0.2}  # in no word of the query: an expansion term
    assert sum(m.contribution for m in by_word) + sum(rest.values()) == pytest.approx(sum(contributions.values()))


def check_words_add_up(words: list[dict], terms: list[dict]) -> None:
    """Each word's pieces weigh what the side's term list says (0 when not in it), and the word their sum."""
    weights = {term["token"]: term["weight"] for term in terms}
    for word in words:
        assert [piece["weight"] for piece in word["pieces"]] == pytest.approx(
            [weights.get(piece["token"], 0.0) for piece in word["pieces"]]
        )
        assert word["weight"] == pytest.approx(sum(piece["weight"] for piece in word["pieces"]))
    assert [word["weight"] for word in words] == sorted((word["weight"] for word in words), reverse=True)


def test_encode_shows_words_with_their_pieces_and_keeps_its_json(model: Path) -> None:
    encoder = SparseEncoder.load(model)
    result = run_cli("encode", str(model), DOC, "--query", "--json", cwd=model.parent)
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    assert set(entry) == {"text", "document", "query", "words"}  # the earlier keys as they were, and `words`
    expected = encoder.to_token_weights(encoder.encode_documents([DOC])[0])
    assert {t["token"]: t["weight"] for t in entry["document"]} == pytest.approx(expected)

    words = entry["words"]["document"]
    assert [word["word"] for word in words] == ["대한민국의", "서울은", "수도이다"]  # heaviest first, then text order
    assert [p["token"] for p in words[0]["pieces"]] == ["대한", "##민국", "##의"]
    assert words[0]["weight"] == pytest.approx(expected["대한"] + expected["##민국"])  # ##의 is a stop piece
    for side in ("document", "query"):
        check_words_add_up(entry["words"][side], entry[side])
    # The translations are in no word of the text: they stay expansion terms, shown as themselves.
    assert {t["token"] for t in entry["document"] if not t["present"]} == {"seoul", "capital"}

    text = run_cli("encode", str(model), DOC, cwd=model.parent)
    assert text.returncode == 0, text.stderr
    nation, korea = expected["대한"], expected["##민국"]
    line = f"대한민국의  {nation + korea:.3f} = 대한 ##민국 ##의 ({nation:.3f} + {korea:.3f} + 0)"
    assert line in text.stdout.splitlines()[3], text.stdout
    assert f"expansion (2): seoul {expected['seoul']:.3f}, capital {expected['capital']:.3f}" in text.stdout


def test_explain_groups_the_matched_pieces_by_the_query_words(model: Path) -> None:
    result = run_cli("explain", str(model), "--query", QUERY, "--doc", DOC, "--json", cwd=model.parent)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"score", "query_terms", "doc_terms", "matches", "words"}
    check_words_add_up(report["words"]["query"], report["query_terms"])
    check_words_add_up(report["words"]["document"], report["doc_terms"])
    assert [word["word"] for word in report["words"]["query"]] == ["capitals", "수도", "대한민국"]

    matches = {m["token"]: m["contribution"] for m in report["matches"]}
    assert set(matches) == {"대한", "##민국", "수도", "capital"}
    rows = report["words"]["matches"]
    assert [row["word"] for row in rows] == ["수도", "대한민국", "capitals"]  # largest contribution first
    assert [(row["pieces"], row["matched"]) for row in rows] == [
        (["수도"], ["수도"]),
        (["대한", "##민국"], ["대한", "##민국"]),
        (["capital", "##s"], ["capital"]),  # ##s is in no document: the word matches by capital
    ]
    assert [row["contribution"] for row in rows] == pytest.approx(
        [matches["수도"], matches["대한"] + matches["##민국"], matches["capital"]]
    )
    assert sum(row["contribution"] for row in rows) == pytest.approx(report["score"])

    text = run_cli("explain", str(model), "--query", QUERY, "--doc", DOC, cwd=model.parent)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    words = lines.index("by query word (a word matches where its pieces do):")
    share = rows[1]["contribution"] / report["score"]
    assert lines[words + 2] == (
        f"  대한민국  {rows[1]['contribution']:.4f}  {share:6.1%} = 대한 ##민국 "
        f"({matches['대한']:.4f} + {matches['##민국']:.4f})"
    )
    assert lines[words + 3].endswith("% = capital") and lines[words + 4] == "by term:"
