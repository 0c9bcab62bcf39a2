"""Validation during training: nDCG@10 on a capped, fixed subset of a benchmark split.

Encoding a whole corpus every N steps would dominate a CPU run, so validation keeps a
seeded sample of queries and every document they judge, topped up with other documents
to `max_docs` as distractors; the subset is drawn once, so successive scores compare.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from nsparse.data import Benchmark
from nsparse.eval import SparseRetriever, evaluate
from nsparse.model.encoder import SparseEncoder


def document_text(document: dict) -> str:
    """The text a document is encoded from: title and body, as they are indexed."""
    return f"{document.get('title', '')} {document['text']}".strip()


@dataclass(frozen=True)
class ValidationSet:
    doc_ids: list[str]
    doc_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]


def capped_validation_set(benchmark: Benchmark, max_docs: int, max_queries: int, seed: int) -> ValidationSet:
    """Up to `max_queries` judged queries, all their judged documents, distractors up to `max_docs`."""
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


def validate(encoder: SparseEncoder, validation: ValidationSet, batch_size: int = 32) -> dict[str, float]:
    """nDCG@10 (and MRR@10) of the encoder on the validation subset, plus mean document terms."""
    doc_matrix = encoder.encode_documents(validation.doc_texts, batch_size=batch_size)
    query_matrix = encoder.encode_queries(validation.query_texts)
    run = SparseRetriever(doc_matrix, validation.doc_ids).search(query_matrix, validation.query_ids, 100)
    summary = evaluate(validation.qrels, run).summary
    return {"ndcg@10": float(summary["ndcg@10"]), "mrr@10": float(summary["mrr@10"]),
            "doc_nnz": float(doc_matrix.getnnz(axis=1).mean())}
