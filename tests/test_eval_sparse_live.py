"""SparseRetriever ranks exactly like a live rank_features index queried with neural_sparse."""

import numpy as np
import pytest
import scipy.sparse

from nsparse.eval import SparseRetriever
from nsparse.opensearch import index, search

pytestmark = pytest.mark.opensearch

INDEX = "nsparse-test-eval-sparse"
VOCABULARY = [f"tok{i}" for i in range(25)] + ["학교", "도서관", "회사", "school"]


def _random_matrix(rows: int, terms_per_row: tuple[int, int], rng: np.random.Generator) -> scipy.sparse.csr_matrix:
    """Weights are multiples of 1/64 up to 4, which rank_features stores exactly (9 significant bits)."""
    matrix = np.zeros((rows, len(VOCABULARY)))
    for row in matrix:
        columns = rng.choice(len(VOCABULARY), size=int(rng.integers(*terms_per_row)), replace=False)
        row[columns] = rng.integers(1, 257, size=len(columns)) / 64
    return scipy.sparse.csr_matrix(matrix)


def _as_tokens(row: scipy.sparse.csr_matrix) -> dict[str, float]:
    return {VOCABULARY[column]: float(weight) for column, weight in zip(row.indices, row.data, strict=True)}


def test_exact_retriever_ranks_like_the_live_neural_sparse_index(opensearch):
    rng = np.random.default_rng(11)
    docs, queries = _random_matrix(80, (2, 8), rng), _random_matrix(6, (1, 5), rng)
    doc_ids = [f"doc{number:03d}" for number in rng.permutation(80)]
    query_ids = [f"q{number}" for number in range(6)]

    index.create_index(opensearch, INDEX, index.sparse_index_body(), replace=True)
    rows = (
        {"_id": doc_id, "title": "", "text": "", "sparse": _as_tokens(docs[row])} for row, doc_id in enumerate(doc_ids)
    )
    index.bulk_index(opensearch, INDEX, rows, progress=False)

    run = SparseRetriever(docs, doc_ids).search(queries, query_ids, k=20)
    for row, query_id in enumerate(query_ids):
        live = search.neural_sparse_tokens(opensearch, INDEX, "sparse", _as_tokens(queries[row]), k=20)
        ours = list(run[query_id].items())
        assert [score for _, score in ours] == pytest.approx([score for _, score in live], rel=1e-5)
        for (our_id, our_score), (live_id, _) in zip(ours, live, strict=True):
            # Same document at every rank, unless the rank is shared by tied documents.
            assert our_id == live_id or sum(score == pytest.approx(our_score, rel=1e-5) for _, score in ours) > 1
