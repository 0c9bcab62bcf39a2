"""The pipeline layer against the live OpenSearch node: BM25 (nori) baseline, deploy idempotency, benchmark."""

from __future__ import annotations

from opensearchpy import OpenSearch

from nsparse.data import Benchmark
from nsparse.eval import evaluate
from nsparse.pipeline.baselines import bm25_nori_system, ensure_bm25_index

CORPUS = {
    "d1": {"title": "", "text": "학교가 끝나면 학생들은 도서관으로 간다"},
    "d2": {"title": "", "text": "병원에서 일하는 의사는 바쁘다"},
    "d3": {"title": "", "text": "공원에서 산책하는 사람들이 많다"},
}
BENCHMARK = Benchmark(corpus=CORPUS, queries={"q1": "학교에서", "q2": "의사들"}, qrels={"q1": {"d1": 1}, "q2": {"d2": 1}})


def test_bm25_nori_finds_inflected_forms_and_reuses_an_identical_index(opensearch: OpenSearch) -> None:
    run = bm25_nori_system(opensearch, "nsparse-test")("toy", BENCHMARK, 10)
    assert max(run["q1"], key=run["q1"].get) == "d1"
    assert evaluate(BENCHMARK.qrels, run).summary["ndcg@10"] == 1.0

    def uuid(index: str) -> str:
        return opensearch.indices.get(index=index)[index]["settings"]["index"]["uuid"]

    index = ensure_bm25_index(opensearch, "nsparse-test", CORPUS)
    created = uuid(index)
    assert ensure_bm25_index(opensearch, "nsparse-test", dict(CORPUS)) == index and uuid(index) == created
    grown = ensure_bm25_index(opensearch, "nsparse-test", {**CORPUS, "d4": {"title": "", "text": "새 문서"}})
    assert grown != index and opensearch.count(index=grown)["count"] == 4
