import math

import pytest

from helpers import PARAMS
from nsparse.eval import BM25Kiwi

CORPUS = {
    "d1": {"title": "", "text": "apple banana"},
    "d2": {"title": "fruit", "text": "apple apple"},
    "d3": "cherry",
}


def test_scores_follow_the_lucene_bm25_formula():
    k1, b = PARAMS.bm25.k1, PARAMS.bm25.b
    run = BM25Kiwi(CORPUS, k1=k1, b=b).search({"q": "Apple"}, k=10)
    lengths = {"d1": 2, "d2": 3, "d3": 1}  # title "fruit" is indexed with d2
    average = sum(lengths.values()) / 3
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))

    def score(tf, doc):  # Lucene >= 8 drops the constant (k1 + 1) numerator factor
        return idf * tf / (tf + k1 * (1 - b + b * lengths[doc] / average))

    assert list(run["q"]) == ["d2", "d1"]
    assert run["q"]["d2"] == pytest.approx(score(2, "d2"), rel=1e-5)
    assert run["q"]["d1"] == pytest.approx(score(1, "d1"), rel=1e-5)


def test_korean_particles_do_not_block_matches_and_unmatched_queries_return_nothing():
    corpus = {"k1": "학교에서 공부를 했다", "k2": "집으로 돌아갔다"}
    run = BM25Kiwi(corpus, PARAMS.bm25.k1, PARAMS.bm25.b).search({"school": "학교는", "none": "비행기"}, k=5)
    assert list(run["school"]) == ["k1"]
    assert run["none"] == {}


def test_tied_documents_come_in_id_order():
    corpus = {"c": "apple", "a": "apple", "b": "apple", "z": "banana"}
    assert list(BM25Kiwi(corpus, PARAMS.bm25.k1, PARAMS.bm25.b).search({"q": "apple"}, k=10)["q"]) == ["a", "b", "c"]
