import numpy as np
import pytest
import scipy.sparse

import nsparse.eval.sparse as sparse_module
from nsparse.eval import SparseRetriever, sparse_cost

# 4 documents x 3 terms; "b" and "c" are identical so they tie on every query.
DOCS = scipy.sparse.csr_matrix(
    np.array(
        [
            [1.0, 0.0, 0.0],  # c
            [0.0, 2.0, 0.0],  # a
            [1.0, 0.0, 0.0],  # b
            [0.0, 0.0, 3.0],  # d
        ]
    )
)
DOC_IDS = ["c", "a", "b", "d"]
QUERIES = scipy.sparse.csr_matrix(np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 1.0]]))


def test_search_ranks_by_dot_product_breaks_ties_by_id_and_skips_non_matching():
    run = SparseRetriever(DOCS, DOC_IDS).search(QUERIES, ["q1", "q2", "q3"], k=10)
    assert list(run["q1"].items()) == [("a", 2.0), ("b", 2.0), ("c", 2.0)]
    assert run["q2"] == {}
    assert list(run["q3"].items()) == [("d", 3.0), ("b", 1.0), ("c", 1.0)]


def test_search_cuts_at_k_keeping_the_smaller_id_among_ties():
    run = SparseRetriever(DOCS, DOC_IDS).search(QUERIES, ["q1", "q2", "q3"], k=2)
    assert list(run["q1"]) == ["a", "b"]
    assert list(run["q3"]) == ["d", "b"]


def test_batched_search_equals_single_batch(monkeypatch):
    rng = np.random.default_rng(0)
    docs = scipy.sparse.random(50, 40, density=0.1, format="csr", random_state=rng)
    queries = scipy.sparse.random(9, 40, density=0.2, format="csr", random_state=rng)
    doc_ids = [f"d{i:02d}" for i in range(50)]
    query_ids = [f"q{i}" for i in range(9)]
    whole = SparseRetriever(docs, doc_ids).search(queries, query_ids, k=5)
    monkeypatch.setattr(sparse_module, "SCORE_CELLS_PER_BATCH", 100)  # two queries a batch
    batched = SparseRetriever(docs, doc_ids).search(queries, query_ids, k=5)
    assert batched == whole
    dense_scores = (queries @ docs.T).toarray()
    best = int(np.argmax(dense_scores[0]))
    assert next(iter(whole["q0"])) == doc_ids[best]


def test_search_rejects_mismatched_shapes():
    retriever = SparseRetriever(DOCS, DOC_IDS)
    with pytest.raises(ValueError, match="vocabulary"):
        retriever.search(scipy.sparse.csr_matrix(np.ones((1, 4))), ["q"], k=1)
    with pytest.raises(ValueError, match="not unique"):
        SparseRetriever(DOCS, ["a", "a", "b", "c"])


def test_sparse_cost_matches_hand_computed_flops():
    # Term presence: docs p_d = (2/4, 1/4, 1/4); queries p_q = (2/3, 1/3, 1/3).
    cost = sparse_cost(QUERIES, DOCS)
    assert cost["doc_nnz"] == pytest.approx(4 / 4)
    assert cost["query_nnz"] == pytest.approx(4 / 3)
    assert cost["flops"] == pytest.approx(2 / 3 * 2 / 4 + 1 / 3 * 1 / 4 + 1 / 3 * 1 / 4)


def test_sparse_cost_ignores_explicit_zeros():
    with_explicit_zero = scipy.sparse.csr_matrix(
        (np.array([0.0, 1.0]), np.array([0, 1]), np.array([0, 2])), shape=(1, 3)
    )
    assert sparse_cost(with_explicit_zero, DOCS)["query_nnz"] == 1.0
