"""Every synthesis filter with inputs it must reject and inputs it must keep."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from nsparse.config import load_params
from nsparse.korean import analyze
from nsparse.synth.filters import (
    Candidate,
    DuplicateFilter,
    copy_ratio,
    filter_candidates,
    hangul_ratio,
)
from nsparse.synth.selfsupervised import ict_candidates, keyword_candidates

PARAMS = load_params(Path(__file__).resolve().parents[1] / "params.yaml")

SEOUL = "서울은 대한민국의 수도이다. 한강이 도시를 가로지른다. 인구는 약 천만 명이다."
BUSAN = "부산은 대한민국 제2의 도시이다. 해운대 해수욕장이 유명하다. 부산항은 큰 항구이다."
JEJU = "제주도는 화산섬이다. 한라산이 섬 가운데에 있다. 귤이 특산물이다."
DOCUMENTS = {"demo/seoul": SEOUL, "demo/busan": BUSAN, "demo/jeju": JEJU}


def run(*candidates: Candidate, **settings) -> dict:
    outcome = filter_candidates(list(candidates), PARAMS.synthesize.filters.merged(settings), PARAMS.bm25)
    counts = outcome.counts
    for method_counts in counts.values():  # every candidate is either kept or charged to one filter
        assert method_counts["candidates"] == method_counts["kept"] + sum(method_counts["rejected"].values())
    return {"pairs": outcome.pairs, "counts": counts}


def llm(doc_key: str, query: str) -> Candidate:
    return Candidate(doc_key, "llm", query, DOCUMENTS[doc_key])


def test_length_filter_rejects_too_short_and_too_long_queries():
    result = run(
        llm("demo/seoul", "서울"),
        llm("demo/seoul", "서울 한강 인구 " * 10),
        llm("demo/seoul", "서울 인구는 얼마나 되나"),
    )
    assert result["counts"]["llm"]["rejected"]["length"] == 2
    assert [pair["query"] for pair in result["pairs"]] == ["서울 인구는 얼마나 되나"]


def test_script_filter_keeps_korean_and_code_switched_rejects_english():
    assert hangul_ratio("서울 population 통계") == pytest.approx(2 / 3)
    assert hangul_ratio("What is the population of Seoul") == 0.0
    result = run(llm("demo/seoul", "How many people live in Seoul"), llm("demo/seoul", "서울 population 규모"))
    assert result["counts"]["llm"]["rejected"]["script"] == 1
    assert [pair["query"] for pair in result["pairs"]] == ["서울 population 규모"]


def test_copy_filter_rejects_a_sentence_copied_from_the_document():
    assert copy_ratio(["한강", "도시", "가로지르"], ["서울", "한강", "도시", "가로지르"]) == 1.0
    result = run(llm("demo/seoul", "한강이 도시를 가로지른다"), llm("demo/seoul", "서울을 흐르는 강 이름"))
    assert result["counts"]["llm"]["rejected"]["copy"] == 1
    assert [pair["query"] for pair in result["pairs"]] == ["서울을 흐르는 강 이름"]


def test_duplicate_filter_rejects_near_duplicates_in_a_document_and_repeats_across_documents():
    duplicates = DuplicateFilter(max_jaccard=0.8)
    assert duplicates.admit("a", ["서울", "인구", "규모"])
    assert not duplicates.admit("a", ["인구", "규모", "서울"])  # same words, other order
    assert not duplicates.admit("b", ["서울", "인구", "규모"])  # same token set, other document
    assert duplicates.admit("a", ["서울", "면적"])
    result = run(
        llm("demo/seoul", "서울 인구 규모"),
        llm("demo/seoul", "서울의 인구 규모는"),
        llm("demo/seoul", "서울을 흐르는 강"),
    )
    assert result["counts"]["llm"]["rejected"]["duplicate"] == 1
    assert len(result["pairs"]) == 2


def test_round_trip_keeps_queries_that_find_their_document_and_mines_negatives():
    on_topic = llm("demo/busan", "해운대 해수욕장 있는 도시")
    off_topic = Candidate("demo/seoul", "llm", "한라산 귤 특산물 화산섬", SEOUL)  # describes Jeju, claims Seoul
    result = run(on_topic, off_topic, llm("demo/jeju", "한라산이 솟은 섬"), round_trip_top_k=1, negatives_per_query=1)
    assert result["counts"]["llm"]["rejected"]["round_trip"] == 1
    kept = {pair["query"]: pair for pair in result["pairs"]}
    assert set(kept) == {"해운대 해수욕장 있는 도시", "한라산이 솟은 섬"}, result["counts"]
    busan = kept["해운대 해수욕장 있는 도시"]
    assert busan["positive"] == BUSAN and busan["source"] == "synthetic:llm"
    assert len(busan["negatives"]) == 1 and busan["negatives"][0] in (SEOUL, JEJU)


def test_ict_removes_query_sentences_from_the_positive_and_skips_single_sentences():
    documents = {**DOCUMENTS, "demo/short": "한 문장뿐인 문서이다."}
    candidates = ict_candidates(documents, per_document=2, rng=random.Random(0))
    assert {candidate.doc_key for candidate in candidates} == set(DOCUMENTS)
    for doc_key in DOCUMENTS:
        mine = [candidate for candidate in candidates if candidate.doc_key == doc_key]
        assert len(mine) == 2 and len({candidate.positive for candidate in mine}) == 1
        for candidate in mine:
            assert candidate.query in DOCUMENTS[doc_key] and candidate.query not in candidate.positive
            assert candidate.positive and candidate.method == "ict"


def test_keyword_queries_use_salient_terms_of_their_document():
    candidates = keyword_candidates(DOCUMENTS, per_document=3, term_range=(2, 3), rng=random.Random(0), pool=3)
    assert len(candidates) == 9
    shared = {"대한민국", "도시"}  # in two of the three documents: lower IDF than any term unique to one
    for candidate in candidates:
        terms = candidate.query.split()
        assert 2 <= len(terms) <= 3 and len(set(terms)) == len(terms)
        assert set(terms) <= set(analyze(DOCUMENTS[candidate.doc_key])) and not set(terms) & shared
        assert candidate.positive == DOCUMENTS[candidate.doc_key]
