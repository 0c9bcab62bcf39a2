"""Encoding benchmark: PyTorch eager vs ONNX fp32 vs ONNX int8 on the same documents, in one run.

Each back end encodes the same capped benchmark corpus (same threads, same batch size);
documents per second, nDCG@10 (queries encoded the one inference-free/bi-encoder way)
and the difference of its vectors from PyTorch's are reported side by side.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from functools import partial

import scipy.sparse as sp
import torch

from nsparse.eval import SparseRetriever, evaluate
from nsparse.export.onnx import OnnxDocumentEncoder, compare_vectors
from nsparse.model.encoder import SparseEncoder
from nsparse.train.validation import ValidationSet


def timed(
    encode: Callable[[Sequence[str]], sp.csr_matrix], texts: Sequence[str], warmup: int
) -> tuple[sp.csr_matrix, float]:
    """Encode `texts` after an untimed warm-up on the first `warmup` of them (first-call costs excluded)."""
    encode(texts[:warmup])
    started = time.perf_counter()
    matrix = encode(texts)
    return matrix, time.perf_counter() - started


def encoding_benchmark(
    encoder: SparseEncoder,
    onnx_models: dict[str, str | os.PathLike[str]],
    subset: ValidationSet,
    batch_size: int,
    top_k: int,
) -> dict[str, dict]:
    """{backend: {docs_per_second, seconds, ndcg@10, doc_nnz, max_abs_diff_vs_torch, ...}}.

    Every back end encodes `batch_size` documents per call; their vectors are compared on each one's `top_k` terms.
    """
    encoder.cpu().eval()
    queries = encoder.encode_queries(subset.query_texts)
    backends: dict[str, Callable[[Sequence[str]], sp.csr_matrix]] = {"pytorch": encoder.encode_documents}
    backends.update({name: OnnxDocumentEncoder(path, encoder).encode_documents for name, path in onnx_models.items()})
    results: dict[str, dict] = {}
    reference = None
    for name, encode in backends.items():
        matrix, seconds = timed(partial(encode, batch_size=batch_size), subset.doc_texts, batch_size)
        run = SparseRetriever(matrix, subset.doc_ids).search(queries, subset.query_ids, 100)
        summary = evaluate(subset.qrels, run).summary
        results[name] = {
            "docs_per_second": len(subset.doc_texts) / seconds,
            "seconds": seconds,
            "ndcg@10": float(summary["ndcg@10"]),
            "doc_nnz": float(matrix.getnnz(axis=1).mean()),
        }
        if reference is None:
            reference = matrix.toarray()
        else:
            results[name].update(compare_vectors(reference, matrix.toarray(), top_k))
            results[name]["speedup_vs_pytorch"] = (
                results[name]["docs_per_second"] / results["pytorch"]["docs_per_second"]
            )
            results[name]["ndcg_ratio_vs_pytorch"] = results[name]["ndcg@10"] / max(
                results["pytorch"]["ndcg@10"], 1e-12
            )
    return {
        "documents": len(subset.doc_texts),
        "queries": len(subset.query_texts),
        "threads": torch.get_num_threads(),
        "batch_size": batch_size,
        "backends": results,
    }
