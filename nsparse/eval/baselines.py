"""Scoring retrieval systems on benchmarks: the shape of `reports/baselines.json`.

A system is any function `(benchmark name, Benchmark, depth) -> run`; in-process BM25 is
one, OpenSearch systems plug in the same way, so every system is scored identically.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

from nsparse.data.format import Benchmark
from nsparse.eval.metrics import DEFAULT_METRICS, evaluate

Run = dict[str, dict[str, float]]
System = Callable[[str, Benchmark, int], Run]


def corpus_fingerprint(corpus: Mapping[str, Mapping[str, str]]) -> str:
    """A digest of ids and texts: benchmarks sharing a corpus (korquad/codeswitch) share one index."""
    digest = hashlib.sha1()
    for doc_id, doc in corpus.items():
        digest.update(f"{doc_id}\x1f{doc['title']}\x1f{doc['text']}\x1e".encode())
    return digest.hexdigest()


def score_systems(
    benchmarks: Mapping[str, Benchmark], systems: Mapping[str, System], depth: int
) -> dict[str, dict[str, dict[str, float]]]:
    """{benchmark: {system: {metric: mean}}} for the default metrics (nDCG@10, MRR@10, Recall@100), each system
    retrieving `depth` documents per query (`baselines.depth`)."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for benchmark_name, benchmark in benchmarks.items():
        table[benchmark_name] = {}
        for system_name, system in systems.items():
            result = evaluate(benchmark.qrels, system(benchmark_name, benchmark, depth), DEFAULT_METRICS)
            table[benchmark_name][system_name] = {metric: round(value, 4) for metric, value in result.summary.items()}
    return table
