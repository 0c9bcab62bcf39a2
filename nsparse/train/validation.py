"""Validation during training: nDCG@10 on the dev splits of several benchmarks, exact retrieval over each corpus.

Checkpoints are chosen by the mean nDCG@10 over the benchmarks, so that selection sees
every kind of query the product serves (Korean questions, Korean and English web queries)
rather than the one a single benchmark holds. By default the whole corpus and every judged
query are used: a capped subset of a few hundred documents flatters a model (KorQuAD dev
read ~0.85 on 300 documents and 0.58 on the full corpus). A capped, seeded subset
(`max_docs`, `max_queries`) remains for quick experiments and for the export's encoding benchmark.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from nsparse.data import Benchmark
from nsparse.eval import SparseRetriever, evaluate
from nsparse.eval.bm25 import document_text
from nsparse.model.encoder import SparseEncoder


@dataclass(frozen=True)
class ValidationSet:
    doc_ids: list[str]
    doc_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]


def capped_validation_set(
    benchmark: Benchmark, max_docs: int | None, max_queries: int | None, seed: int
) -> ValidationSet:
    """Up to `max_queries` judged queries, all their judged documents, distractors up to `max_docs` (None: all)."""
    max_docs = len(benchmark.corpus) if max_docs is None else max_docs
    max_queries = len(benchmark.qrels) if max_queries is None else max_queries
    rng = random.Random(seed)
    query_ids = sorted(benchmark.qrels)
    rng.shuffle(query_ids)
    chosen_queries: list[str] = []
    judged: list[str] = []
    for query_id in query_ids:
        new_docs = [doc_id for doc_id in benchmark.qrels[query_id] if doc_id not in judged]
        if len(chosen_queries) >= max_queries or len(judged) + len(new_docs) > max_docs:
            break
        chosen_queries.append(query_id)
        judged.extend(new_docs)
    if not chosen_queries:
        raise ValueError(f"validation: max_docs={max_docs} cannot hold the judged documents of even one query")
    judged_set = set(judged)
    others = sorted(doc_id for doc_id in benchmark.corpus if doc_id not in judged_set)
    rng.shuffle(others)
    doc_ids = judged + others[: max(0, max_docs - len(judged))]
    return ValidationSet(
        doc_ids=doc_ids,
        doc_texts=[document_text(benchmark.corpus[doc_id]) for doc_id in doc_ids],
        query_ids=chosen_queries,
        query_texts=[benchmark.queries[query_id] for query_id in chosen_queries],
        qrels={query_id: benchmark.qrels[query_id] for query_id in chosen_queries},
    )


def validate(encoder: SparseEncoder, validation: Mapping[str, ValidationSet], batch_size: int = 32) -> dict[str, float]:
    """Mean nDCG@10, MRR@10 and document terms over the benchmarks, and each benchmark's own (`<name>/ndcg@10`).

    Benchmarks over the same documents (msmarco-ko and msmarco-en2ko, korquad and codeswitch) share one
    encoding of them, in whichever order the first of them listed them.
    """
    encoded: dict[frozenset[str], tuple[sp.csr_matrix, list[str]]] = {}
    scores: dict[str, float] = {}
    for name, subset in validation.items():
        key = frozenset(subset.doc_ids)
        if key not in encoded:
            matrix = encoder.encode_documents(subset.doc_texts, batch_size=batch_size, progress=True)
            encoded[key] = (matrix, subset.doc_ids)
        doc_matrix, doc_ids = encoded[key]
        query_matrix = encoder.encode_queries(subset.query_texts)
        run = SparseRetriever(doc_matrix, doc_ids).search(query_matrix, subset.query_ids, 100)
        summary = evaluate(subset.qrels, run).summary
        scores[f"{name}/ndcg@10"] = float(summary["ndcg@10"])
        scores[f"{name}/mrr@10"] = float(summary["mrr@10"])
        scores[f"{name}/doc_nnz"] = float(doc_matrix.getnnz(axis=1).mean())
    for metric in ("ndcg@10", "mrr@10", "doc_nnz"):
        scores[metric] = float(np.mean([scores[f"{name}/{metric}"] for name in validation]))
    return scores
