"""The scale benchmark's parts that need no node: synthetic documents, SEISMIC bodies and clauses, recall."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from nsparse.cli import build_parser
from nsparse.opensearch import index, search
from nsparse.opensearch.index import SeismicMethod, SparseVectorUnsupported
from nsparse.opensearch.search import SeismicQuery
from nsparse.pipeline.scale import (
    CorpusProfile,
    RealCorpus,
    ScaleParams,
    corpus_documents,
    quantization_ceiling,
    recall_at_k,
    seismic_for_size,
    synthetic_documents,
)

WORDS = [f"w{i}" for i in range(200)]


def _real(count: int = 600, vocabulary: int = 500, seed: int = 3) -> tuple[sp.csr_matrix, list[str]]:
    """Real-looking encoded documents: Zipf-like term frequencies, varied lengths, term-specific weights."""
    rng = np.random.default_rng(seed)
    share = 1 / np.arange(1, vocabulary + 1) ** 1.1
    share /= share.sum()
    term_scale = rng.uniform(0.2, 1.0, size=vocabulary)
    rows, cols, vals, texts = [], [], [], []
    word_share = 1 / np.arange(1, len(WORDS) + 1)
    word_share /= word_share.sum()
    for row in range(count):
        terms = rng.choice(vocabulary, size=int(rng.integers(5, 60)), replace=False, p=share)
        rows += [row] * len(terms)
        cols += terms.tolist()
        vals += (term_scale[terms] * rng.uniform(0.5, 1.0, size=len(terms))).tolist()
        texts.append(" ".join(rng.choice(WORDS, size=int(rng.integers(3, 40)), p=word_share)))
    matrix = sp.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(count, vocabulary))
    return matrix, texts


def _as_tuples(documents) -> list[tuple]:
    return [(d.doc_id, d.text, d.term_ids.tolist(), d.weights.tolist()) for d in documents]


def test_synthetic_documents_are_seeded_and_a_smaller_corpus_is_a_prefix():
    profile = CorpusProfile.fit(*_real())
    first = _as_tuples(synthetic_documents(profile, 12_000, seed=5))
    assert first == _as_tuples(synthetic_documents(profile, 12_000, seed=5))
    assert first[:3_000] == _as_tuples(synthetic_documents(profile, 3_000, seed=5))
    assert first[:50] != _as_tuples(synthetic_documents(profile, 50, seed=6))
    assert len({doc_id for doc_id, *_ in first}) == 12_000


def test_synthetic_documents_follow_the_real_distributions():
    vectors, texts = _real()
    profile = CorpusProfile.fit(vectors, texts)
    synthetic = list(synthetic_documents(profile, 3_000, seed=0))
    assert all(doc.synthetic and doc.title == "" for doc in synthetic)

    real_lengths = np.diff(vectors.indptr)
    lengths = np.asarray([len(doc.term_ids) for doc in synthetic])
    assert lengths.mean() == pytest.approx(real_lengths.mean(), rel=0.05)
    assert lengths.max() <= real_lengths.max()

    # Terms in proportion to their real document frequency.
    real_frequency = np.diff(sp.csc_matrix(vectors).indptr) / vectors.shape[0]
    counts = Counter(term for doc in synthetic for term in doc.term_ids.tolist())
    frequency = np.asarray([counts[t] for t in range(vectors.shape[1])]) / len(synthetic)
    assert np.corrcoef(real_frequency, frequency)[0, 1] > 0.95
    assert set(counts) <= set(np.flatnonzero(real_frequency).tolist())

    # Each weight is one of that term's real weights; terms are distinct and sorted.
    postings = sp.csc_matrix(vectors)
    for doc in synthetic[:200]:
        assert np.all(np.diff(doc.term_ids) > 0)
        for term, weight in zip(doc.term_ids.tolist(), doc.weights.tolist()):
            real_weights = postings.data[postings.indptr[term] : postings.indptr[term + 1]]
            assert np.isclose(real_weights, weight).any()

    # Text of real words, as long as real texts.
    words = [word for doc in synthetic for word in doc.text.split()]
    assert set(words) <= set(WORDS)
    real_word_counts = [len(text.split()) for text in texts]
    assert len(words) / len(synthetic) == pytest.approx(np.mean(real_word_counts), rel=0.05)


def test_corpus_is_the_real_documents_then_synthetic_ones():
    vectors, texts = _real(count=50)
    real = RealCorpus([f"r{i}" for i in range(50)], ["t"] * 50, texts, vectors)
    profile = CorpusProfile.fit(vectors, texts)
    documents = list(corpus_documents(real, profile, 80, seed=0))
    assert [doc.synthetic for doc in documents] == [False] * 50 + [True] * 30
    assert documents[7].doc_id == "r7" and documents[7].weights.tolist() == vectors.getrow(7).data.tolist()
    assert [doc.doc_id for doc in corpus_documents(real, profile, 20, seed=0)] == [f"r{i}" for i in range(20)]


def test_quantization_ceiling_rounds_the_largest_weight_up():
    assert quantization_ceiling(np.asarray([0.1, 0.964])) == pytest.approx(0.97)
    assert quantization_ceiling(np.asarray([10.02])) == pytest.approx(11.0)
    assert quantization_ceiling(np.asarray([3.0])) == pytest.approx(3.0)


def test_recall_at_k_counts_the_exact_top_k_found():
    exact = {"q1": [("a", 3.0), ("b", 2.0)], "q2": [("c", 1.0), ("d", 0.5)], "empty": []}
    approximate = {"q1": [("b", 2.0), ("a", 3.0)], "q2": [("c", 1.0), ("x", 0.9)]}
    assert recall_at_k(approximate, exact, k=2) == pytest.approx(0.75)


def test_sparse_vector_body_keeps_the_sparse_index_layout():
    method = SeismicMethod(approximate_threshold=5000, quantization_ceiling_ingest=1.0)
    body = index.sparse_vector_index_body(method)
    assert body["settings"]["index"]["sparse"] is True
    parameters = {"approximate_threshold": 5000, "quantization_ceiling_ingest": 1.0}
    assert body["mappings"]["properties"]["sparse"] == {
        "type": "sparse_vector",
        "method": {"name": "seismic", "parameters": parameters},
    }
    rank_features = index.sparse_index_body()
    assert rank_features["mappings"]["properties"]["sparse"] == {"type": "rank_features"}
    assert "sparse" not in rank_features["settings"]["index"]
    # Everything but the vector field and the index.sparse setting is shared.
    del body["mappings"]["properties"]["sparse"], rank_features["mappings"]["properties"]["sparse"]
    del body["settings"]["index"]["sparse"]
    assert body == rank_features


def test_seismic_posting_lists_grow_with_the_corpus_unless_a_count_is_given():
    params = ScaleParams()
    assert [seismic_for_size(params, size).n_postings for size in (10_000, 100_000, 1_000_000)] == [160, 500, 5000]
    assert seismic_for_size(params, 100).n_postings == 160  # the plugin's own minimum
    fixed = replace(params, seismic=replace(params.seismic, n_postings=300))
    assert seismic_for_size(fixed, 1_000_000).n_postings == 300
    assert seismic_for_size(params, 100_000).approximate_threshold == params.seismic.approximate_threshold


def test_scale_cli_refuses_a_share_outside_zero_to_one(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "scale", "--n-postings-share", "2"])
    assert "--n-postings-share: must be a share in (0, 1], got 2.0" in capsys.readouterr().err


def test_seismic_clause_carries_the_method_parameters():
    clause = search.neural_sparse_seismic_clause("sparse", {"17": 1.5}, SeismicQuery(top_n=20))
    assert clause == {
        "neural_sparse": {
            "sparse": {"query_tokens": {"17": 1.5}, "method_parameters": {"k": 10, "top_n": 20, "heap_factor": 1.0}}
        }
    }


class _Cluster:
    """Just enough of a client to answer `info()` with a version."""

    def __init__(self, version: str) -> None:
        self.version = version

    def info(self) -> dict:
        return {"version": {"number": self.version}}


def test_sparse_vector_needs_opensearch_3_3():
    with pytest.raises(SparseVectorUnsupported, match=r"needs OpenSearch >= 3.3, but the cluster runs 2.19.1"):
        index.require_sparse_vector(_Cluster("2.19.1"))
    with pytest.raises(SparseVectorUnsupported, match=r"runs 3.2.0"):
        index.require_sparse_vector(_Cluster("3.2.0"))
    index.require_sparse_vector(_Cluster("3.3.0"))
    index.require_sparse_vector(_Cluster("3.6.0-SNAPSHOT"))
