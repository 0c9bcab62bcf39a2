"""The vocabulary's pieces are the terms people search with: nouns, names and English words whole (issue 25)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nsparse.config import load_params
from nsparse.data.format import read_queries
from nsparse.model.base import read_lines, vocabulary_lines
from nsparse.model.vocabulary import (
    frequent_english_words,
    frequent_nouns,
    split_words,
    train_tokenizer,
)
from stages.base import corpus_texts

ROOT = Path(__file__).resolve().parents[1]

# Syllables and short pieces are frequent here too, so a frequency-only WordPiece would cut the names.
CORPUS = [
    "서울은 대한민국의 수도이다. 서울에는 많은 사람이 산다.",
    "대한민국의 대통령 김대중은 서울에서 태어나지 않았다.",
    "방탄소년단은 서울에서 공연했다. 방탄소년단의 노래는 유명하다.",
    "The definition of symptoms differs: two definitions, many symptoms.",
    "What is the definition of capital? Seoul is the capital of Korea.",
    "가나다라마바사 아자차카타파하 가나 다라 마바 사아",
]


def test_frequent_nouns_and_english_words_are_one_piece() -> None:
    tokenizer, stops = train_tokenizer(CORPUS * 3, vocab_size=600, min_frequency=2)
    words = ["서울", "대한민국", "김대중", "방탄소년단", "대통령", "definition", "symptoms", "capital", "korea", "two"]
    assert split_words(tokenizer, words) == {}
    assert tokenizer.tokenize("서울은") == ["서울", "##은"]  # still greedy WordPiece: the particle a piece of its own
    assert "##은" in stops and "서울" not in stops
    assert "[UNK]" not in tokenizer.tokenize("seoulite")  # words not in the vocabulary are still spelled


def test_frequent_english_words_enter_whole_not_as_wordpiece_fragments() -> None:
    """A frequency-learned WordPiece with few Latin pieces cut these (differ ##en ##c ##e, t ##w ##o)."""
    filler = (
        "patients often report headaches fever coughing sneezing fatigue nausea dizziness chills sweating "
        "rashes swelling bleeding bruising cramps aches stiffness numbness tingling weakness"
    ).split()
    texts = ["definition of symptoms", "difference between symptoms", "two definitions differ"] * 25
    texts += [" ".join(filler[start:] + filler[:start]) for start in range(len(filler))] + ["서울은 수도이다."]
    tokenizer, _ = train_tokenizer(texts * 2, vocab_size=300, min_frequency=2)
    assert split_words(tokenizer, ["definition", "symptoms", "difference", "two"]) == {}
    assert "[UNK]" not in tokenizer.tokenize("sneezed")  # an unseen word is still spelled


def test_frequent_terms_are_counted_the_way_issue_25_measures_them() -> None:
    assert frequent_nouns(CORPUS, 3) == ["서울", "대한민국", "방탄소년단"]  # ties in Korean order
    assert frequent_english_words(CORPUS, 3) == ["capital", "definition", "symptoms"]


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "data/benchmarks/korquad").is_dir(), reason="needs the prepared data/ (dvc repro)")
def test_default_vocabulary_keeps_the_frequent_corpus_nouns_and_query_words_whole(monkeypatch) -> None:
    """Targets of issue 25 on the default corpora: >= 99% of the 1,000 nouns, >= 95% of the 500 English words."""
    monkeypatch.chdir(ROOT)
    params = load_params()
    paths, base = params.paths, params.base
    benchmarks = Path(paths.benchmarks)
    texts = corpus_texts(benchmarks, base.vocabulary_corpora)
    lines = vocabulary_lines(read_lines(Path(paths.pretrain) / "text.txt"), texts)
    tokenizer, _ = train_tokenizer(lines, base.vocab_size, base.min_frequency)
    nouns = frequent_nouns(corpus_texts(benchmarks, ["korquad"]), 1000)
    words = frequent_english_words(list(read_queries(benchmarks / "msmarco-en2ko/queries.jsonl").values()), 500)
    split_nouns, split_english = split_words(tokenizer, nouns), split_words(tokenizer, words)
    assert len(split_nouns) <= 10, split_nouns
    assert len(split_english) <= 25, split_english
