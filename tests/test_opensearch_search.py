"""Indices and queries against the live node: rank_features + neural_sparse, nori BM25, hybrid."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from nsparse.opensearch import index, search
from nsparse.opensearch.client import OpenSearchError

pytestmark = pytest.mark.opensearch

SPARSE_INDEX = "nsparse-test-sparse"
BM25_INDEX = "nsparse-test-bm25"


def _sparse_corpus(
    n_docs: int, vocabulary: list[str], seed: int
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Random sparse documents and one query whose dot products with them are all distinct.

    Document weights are multiples of 1/64 up to 4: rank_features keeps 9 significant
    bits, which represents these exactly, so the node scores with the same numbers
    Python does.
    """
    rng = np.random.default_rng(seed)
    docs = {}
    for number in range(n_docs):
        tokens = rng.choice(vocabulary, size=int(rng.integers(2, 8)), replace=False)
        docs[f"d{number}"] = {str(token): float(rng.integers(1, 257)) / 64 for token in tokens}
    query = {
        str(token): float(weight)
        for token, weight in zip(rng.choice(vocabulary, size=5, replace=False), rng.uniform(0.5, 3.0, size=5))
    }
    return docs, query


def _dot(query: dict[str, float], doc: dict[str, float]) -> float:
    return sum(weight * doc.get(token, 0.0) for token, weight in query.items())


def test_neural_sparse_query_tokens_rank_like_python_dot_products(opensearch):
    vocabulary = [f"tok{i}" for i in range(20)] + ["학교", "도서관", "회사"]
    docs, query = _sparse_corpus(n_docs=40, vocabulary=vocabulary, seed=7)
    expected = sorted(((doc_id, _dot(query, vector)) for doc_id, vector in docs.items()), key=lambda pair: -pair[1])
    expected = [(doc_id, score) for doc_id, score in expected if score > 0]
    assert len({score for _, score in expected}) == len(expected), "test data must have no tied scores"

    index.create_index(opensearch, SPARSE_INDEX, index.sparse_index_body())
    rows = ({"_id": doc_id, "title": "", "text": "", "sparse": vector} for doc_id, vector in docs.items())
    assert index.bulk_index(opensearch, SPARSE_INDEX, rows, progress=False) == len(docs)

    ranking = search.neural_sparse_tokens(opensearch, SPARSE_INDEX, "sparse", query, k=len(docs))
    assert [doc_id for doc_id, _ in ranking] == [doc_id for doc_id, _ in expected]
    assert [score for _, score in ranking] == pytest.approx([score for _, score in expected], rel=1e-5)
    assert index.settled_index_size_bytes(opensearch, SPARSE_INDEX) > 0


KOREAN_DOCS = [
    {"_id": "school", "title": "학교", "text": "우리 학교가 올해 개교 백 주년을 맞았다."},
    {"_id": "library", "title": "도서관", "text": "시립 도서관은 주말에도 문을 연다."},
    {"_id": "company", "title": "회사", "text": "그는 작은 회사에서 일한다."},
]


def test_nori_bm25_matches_inflected_korean(opensearch):
    index.create_index(opensearch, BM25_INDEX, index.text_index_body())
    index.bulk_index(opensearch, BM25_INDEX, KOREAN_DOCS, progress=False)

    assert [doc_id for doc_id, _ in search.match(opensearch, BM25_INDEX, "text", "학교에서", k=10)] == ["school"]
    assert [doc_id for doc_id, _ in search.match(opensearch, BM25_INDEX, "text", "회사가", k=10)] == ["company"]
    # The plugin's built-in `nori` analyzer strips the particle the same way.
    tokens = opensearch.indices.analyze(body={"analyzer": "nori", "text": "학교에서"})["tokens"]
    assert [token["token"] for token in tokens] == ["학교"]


def _lucene_bm25(
    tf: int, length: int, mean_length: float, docs: int, docs_with_term: int, k1: float, b: float
) -> float:
    """Lucene's BM25Similarity score of one term (lengths under 24 tokens are stored exactly)."""
    idf = math.log(1 + (docs - docs_with_term + 0.5) / (docs_with_term + 0.5))
    return idf * tf / (tf + k1 * (1 - b + b * length / mean_length))


def test_bm25_similarity_set_on_a_closed_index_scores_as_lucenes_formula_says(opensearch):
    docs = [
        {"_id": "short", "title": "", "text": "apple apple banana"},
        {"_id": "long", "title": "", "text": "apple cherry cherry cherry cherry date"},
        {"_id": "other", "title": "", "text": "date"},
    ]
    lengths = {"short": 3, "long": 6}  # tokens nori leaves (no overlaps), mean length 10 / 3

    def scores() -> dict[str, float]:
        return dict(search.search(opensearch, BM25_INDEX, search.match_clause("text", "apple"), k=10))

    # OpenSearch 2.x scores with Lucene's LegacyBM25Similarity, whose numerator keeps the constant (k1 + 1)
    legacy = index.node_version(opensearch) < (3,)

    def expected(k1: float, b: float) -> dict[str, float]:
        tfs = {"short": 2, "long": 1}
        factor = k1 + 1 if legacy else 1.0
        return {doc: factor * _lucene_bm25(tfs[doc], lengths[doc], 10 / 3, 3, 2, k1, b) for doc in tfs}

    tuned = index.BM25Similarity(k1=2.0, b=0.3)
    index.create_index(opensearch, BM25_INDEX, index.text_index_body(tuned))
    index.bulk_index(opensearch, BM25_INDEX, docs, progress=False)
    assert scores() == pytest.approx(expected(2.0, 0.3), rel=1e-6)

    # k1 and b apply at query time: the same index, closed, set and reopened, scores with the new ones
    meta = {"similarity": {"k1": 0.6, "b": 0.9}}
    index.set_bm25_similarity(opensearch, BM25_INDEX, index.BM25Similarity(k1=0.6, b=0.9), meta)
    assert scores() == pytest.approx(expected(0.6, 0.9), rel=1e-6)
    assert opensearch.indices.get_mapping(index=BM25_INDEX)[BM25_INDEX]["mappings"]["_meta"] == {"nsparse": meta}
    assert index.text_index_body()["settings"]["index"].get("similarity") is None  # bm25_nori: Lucene's defaults


def test_whitespace_analysis_misses_what_nori_finds(opensearch):
    """Guards the test above: without nori, 학교에서 does not match 학교가."""
    body = index.text_index_body()
    for field in body["mappings"]["properties"].values():
        field["analyzer"] = "whitespace"
    index.create_index(opensearch, BM25_INDEX, body)
    index.bulk_index(opensearch, BM25_INDEX, KOREAN_DOCS, progress=False)
    assert search.match(opensearch, BM25_INDEX, "text", "학교에서", k=10) == []


def test_hybrid_search_pipeline_combines_bm25_and_sparse(opensearch):
    index.create_index(opensearch, SPARSE_INDEX, index.sparse_index_body())
    docs = [{**doc, "sparse": {doc["title"]: 2.0}} for doc in KOREAN_DOCS]
    docs[1]["sparse"]["학교"] = 1.0  # the library doc is sparse-relevant to 학교 but has no BM25 match
    index.bulk_index(opensearch, SPARSE_INDEX, docs, progress=False)
    pipeline = "nsparse-test-hybrid"
    index.put_hybrid_pipeline(opensearch, pipeline, bm25_weight=0.5)

    ranking = search.hybrid(
        opensearch,
        SPARSE_INDEX,
        [
            {"match": {"text": "학교에서"}},
            {"neural_sparse": {"sparse": {"query_tokens": {"학교": 1.0}}}},
        ],
        k=10,
        search_pipeline=pipeline,
    )
    assert [doc_id for doc_id, _ in ranking][:2] == ["school", "library"]
    assert all(0.0 <= score <= 1.0 for _, score in ranking)


def test_queries_with_and_without_hangul_take_their_own_pipelines_and_weight_0_leaves_the_sparse_ranking(opensearch):
    index.create_index(opensearch, SPARSE_INDEX, index.sparse_index_body())
    docs = [{**doc, "sparse": {"school": weight}} for doc, weight in zip(KOREAN_DOCS, (0.5, 2.0, 1.0))]
    docs[0]["text"] += " (school)"  # BM25 finds only the document the sparse side ranks last
    index.bulk_index(opensearch, SPARSE_INDEX, docs, progress=False)
    base = "nsparse-test-hybrid"
    index.put_hybrid_pipeline(opensearch, search.hybrid_pipeline_name(base, "hangul"), bm25_weight=0.9)
    index.put_hybrid_pipeline(opensearch, search.hybrid_pipeline_name(base, "no_hangul"), bm25_weight=0.0)

    def hybrid(text: str) -> list[str]:
        clauses = [search.match_clause("text", text), {"neural_sparse": {"sparse": {"query_tokens": {"school": 1.0}}}}]
        pipeline = search.hybrid_pipeline_name(base, search.hybrid_query_group(text))
        return [doc_id for doc_id, _ in search.hybrid(opensearch, SPARSE_INDEX, clauses, 10, pipeline)]

    sparse_only = [
        doc_id for doc_id, _ in search.neural_sparse_tokens(opensearch, SPARSE_INDEX, "sparse", {"school": 1.0}, 10)
    ]
    assert sparse_only == ["library", "company", "school"]
    assert hybrid("school") == sparse_only  # no Hangul: BM25's weight 0, the sparse ranking as it is
    assert hybrid("school 학교")[0] == "school"  # Hangul: BM25's 0.9 puts its only match first
    assert search.hybrid_pipeline_name(base, "no_hangul") == "nsparse-test-hybrid-no-hangul"
    with pytest.raises(ValueError, match="unknown hybrid query group"):
        search.hybrid_pipeline_name(base, "english")


def test_bad_mapping_reports_the_server_reason(opensearch):
    bad = {"mappings": {"properties": {"sparse": {"type": "no_such_type"}}}}
    with pytest.raises(
        OpenSearchError, match=r"creating index nsparse-test-bad: HTTP 400: .*No handler for type \[no_such_type\]"
    ):
        index.create_index(opensearch, "nsparse-test-bad", bad)


def test_refused_document_names_the_document(opensearch):
    index.create_index(opensearch, SPARSE_INDEX, index.sparse_index_body())
    rows = [{"_id": "good", "sparse": {"a": 1.0}}, {"_id": "bad", "sparse": {"a": "not a number"}}]
    with pytest.raises(OpenSearchError, match=r"document 'bad' refused"):
        index.bulk_index(opensearch, SPARSE_INDEX, rows, progress=False)


def test_existing_index_is_kept_unless_replaced(opensearch):
    index.create_index(opensearch, BM25_INDEX, index.text_index_body())
    index.bulk_index(opensearch, BM25_INDEX, KOREAN_DOCS, progress=False)
    with pytest.raises(OpenSearchError, match="already exists"):
        index.create_index(opensearch, BM25_INDEX, index.text_index_body())
    index.create_index(opensearch, BM25_INDEX, index.text_index_body(), replace=True)
    assert opensearch.count(index=BM25_INDEX)["count"] == 0


def test_nori_components_honour_their_settings(opensearch):
    """The built nori plugin keeps OpenSearch's component names and settings (decompounding, user rules, filters)."""
    analysis = {
        "tokenizer": {
            mode: {"type": "nori_tokenizer", "decompound_mode": mode, "user_dictionary_rules": ["세종시 세종 시"]}
            for mode in ("none", "discard", "mixed")
        },
        "filter": {"drop_numerals": {"type": "nori_part_of_speech", "stoptags": ["NR"]}},
        "analyzer": {
            "numbers": {"tokenizer": "discard", "filter": ["nori_number"]},
            "readings": {"tokenizer": "discard", "filter": ["nori_readingform"]},
            "no_numerals": {"tokenizer": "discard", "filter": ["drop_numerals"]},
        },
    }
    index.create_index(opensearch, BM25_INDEX, {"settings": {"analysis": analysis}})

    def tokens(**request: str) -> list[str]:
        return [token["token"] for token in opensearch.indices.analyze(index=BM25_INDEX, body=request)["tokens"]]

    assert tokens(tokenizer="none", text="세종시") == ["세종시"]
    assert tokens(tokenizer="discard", text="세종시") == ["세종", "시"]
    assert tokens(tokenizer="mixed", text="세종시") == ["세종시", "세종", "시"]
    assert tokens(analyzer="numbers", text="십만이천오백") == ["102500"]
    assert tokens(analyzer="readings", text="鄕歌") == ["향가"]
    assert tokens(tokenizer="discard", text="사과 둘") == ["사과", "둘"]
    assert tokens(analyzer="no_numerals", text="사과 둘") == ["사과"]


def test_a_partial_answer_is_asked_again_then_an_error_naming_the_failed_shards(opensearch, caplog):
    """One of two indices cannot run the query (a number field given words): its shard fails, the other answers."""
    index.create_index(opensearch, BM25_INDEX, index.text_index_body())
    index.bulk_index(opensearch, BM25_INDEX, KOREAN_DOCS, progress=False)
    numbers = "nsparse-test-numbers"
    index.create_index(opensearch, numbers, {"mappings": {"properties": {"text": {"type": "integer"}}}})
    index.bulk_index(opensearch, numbers, [{"_id": "n", "text": 7}], progress=False)
    body = {"size": 10, "query": {"match": {"text": "학교"}}}
    started = time.monotonic()
    with pytest.raises(OpenSearchError, match=r"1 of 2 shards did not answer after 3 attempts"):
        search.complete_search(opensearch, f"{BM25_INDEX},{numbers}", body)
    assert time.monotonic() - started >= 0.25 + 0.5  # it asked again, waiting between attempts
    assert caplog.text.count("1 of 2 shards did not answer; asking again") == 2
    assert search.complete_search(opensearch, BM25_INDEX, body)["hits"]["hits"][0]["_id"] == "school"
    started = time.monotonic()
    with pytest.raises(OpenSearchError, match=r"HTTP 400") as refused:  # every shard refused the query itself
        search.complete_search(opensearch, numbers, body)
    assert refused.value.status_code == 400 and time.monotonic() - started < 0.25  # not asked again
