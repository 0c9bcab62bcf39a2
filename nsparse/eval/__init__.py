"""nsparse.eval: metrics, paired tests, sparse cost, exact sparse retrieval and in-process BM25."""

from nsparse.eval.bm25 import BM25Kiwi
from nsparse.eval.metrics import DEFAULT_METRICS, EvalResult, evaluate, paired_test
from nsparse.eval.sparse import SparseRetriever, sparse_cost

__all__ = ["DEFAULT_METRICS", "BM25Kiwi", "EvalResult", "SparseRetriever", "evaluate", "paired_test", "sparse_cost"]
