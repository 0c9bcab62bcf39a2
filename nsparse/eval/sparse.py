"""Exact in-process retrieval over sparse vectors, and the query-time cost of sparse representations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse
from tqdm import tqdm

# Dense score cells per query batch: bounds the batch's memory at 4 bytes a cell (128 MiB).
SCORE_CELLS_PER_BATCH = 32 * 1024 * 1024


class SparseRetriever:
    """Top-k documents by exact dot product, as a `rank_features`/`neural_sparse` index ranks them.

    Documents with no term in common with the query (score 0) are not returned, like a
    live index. Ties are broken by document id so runs are reproducible.
    """

    def __init__(self, doc_matrix: scipy.sparse.csr_matrix, doc_ids: Sequence[str]) -> None:
        if doc_matrix.shape[0] != len(doc_ids):
            raise ValueError(f"SparseRetriever: {doc_matrix.shape[0]} document rows but {len(doc_ids)} ids")
        if len(set(doc_ids)) != len(doc_ids):
            raise ValueError("SparseRetriever: document ids are not unique")
        # Rows sorted by id, so that among equal scores the lower column is the smaller id.
        order = np.array(sorted(range(len(doc_ids)), key=doc_ids.__getitem__), dtype=np.int64)
        self.doc_ids = [doc_ids[row] for row in order]
        self.doc_matrix_t = scipy.sparse.csr_matrix(doc_matrix)[order].T.tocsr().astype(np.float32)

    def search(
        self, query_matrix: scipy.sparse.csr_matrix, query_ids: Sequence[str], k: int
    ) -> dict[str, dict[str, float]]:
        """{query id: {doc id: score}} for the top `k` documents of every query row."""
        if query_matrix.shape[0] != len(query_ids):
            raise ValueError(f"SparseRetriever.search: {query_matrix.shape[0]} query rows but {len(query_ids)} ids")
        vocabulary = self.doc_matrix_t.shape[0]
        if query_matrix.shape[1] != vocabulary:
            raise ValueError(
                f"SparseRetriever.search: query vocabulary {query_matrix.shape[1]} != document {vocabulary}"
            )
        queries = scipy.sparse.csr_matrix(query_matrix, dtype=np.float32)
        batch_size = max(1, SCORE_CELLS_PER_BATCH // max(1, len(self.doc_ids)))
        run: dict[str, dict[str, float]] = {}
        for start in tqdm(range(0, queries.shape[0], batch_size), desc="sparse search", unit="batch", disable=None):
            scores = (queries[start : start + batch_size] @ self.doc_matrix_t).toarray()
            for offset, row in enumerate(scores):
                run[query_ids[start + offset]] = self._top_k(row, k)
        return run

    def _top_k(self, scores: np.ndarray, k: int) -> dict[str, float]:
        matching = np.flatnonzero(scores > 0)
        if len(matching) > k:
            threshold = np.partition(scores[matching], len(matching) - k)[len(matching) - k]
            matching = matching[scores[matching] >= threshold]  # keeps every tie at the cut, in id order
        ranked = matching[np.argsort(-scores[matching], kind="stable")][:k]
        return {self.doc_ids[column]: float(scores[column]) for column in ranked}


def sparse_cost(query_matrix: scipy.sparse.spmatrix, doc_matrix: scipy.sparse.spmatrix) -> dict[str, float]:
    """Mean non-zeros per document and per query, and FLOPS = sum_v p_q(v) p_d(v) (Paria et al. 2020).

    p(v) is the fraction of queries (documents) whose vector has term v non-zero; FLOPS is
    then the expected number of multiply-adds of one query-document score.
    """
    if query_matrix.shape[1] != doc_matrix.shape[1]:
        raise ValueError(
            f"sparse_cost: query vocabulary {query_matrix.shape[1]} != document vocabulary {doc_matrix.shape[1]}"
        )
    query_present = scipy.sparse.csr_matrix(query_matrix) != 0
    doc_present = scipy.sparse.csr_matrix(doc_matrix) != 0
    query_term_rate = np.asarray(query_present.sum(axis=0)).ravel() / query_present.shape[0]
    doc_term_rate = np.asarray(doc_present.sum(axis=0)).ravel() / doc_present.shape[0]
    return {
        "doc_nnz": float(doc_present.sum() / doc_present.shape[0]),
        "query_nnz": float(query_present.sum() / query_present.shape[0]),
        "flops": float(query_term_rate @ doc_term_rate),
    }
