"""What a scale run measures once an index is built: latency under concurrent clients, SEISMIC's recall against
exact rank_features, and the node's memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from opensearchpy import OpenSearch

from nsparse.opensearch import search
from nsparse.opensearch.latency import latency_percentiles, run_interleaved
from nsparse.opensearch.node import resident_memory_bytes


def measure_latency(
    searchers: dict[str, Callable[[str], search.Ranking]], query_ids: Sequence[str], clients: int
) -> dict[str, dict[str, float]]:
    """Each system's p50 and p99 round trip, every query run on every system by `clients` concurrent clients.

    The systems take turns query by query, in an order rotated from query to query (as the
    pipeline's benchmark does), so the SEISMIC / BM25 ratio is measured under the same load.
    """
    runs = run_interleaved(searchers, {qid: qid for qid in query_ids}, "latency", clients)
    return {
        name: {"clients": clients, "queries": len(run.latencies_ms), **latency_percentiles(run.latencies_ms)}
        for name, run in runs.items()
    }


def recall_at_k(approximate: dict[str, search.Ranking], exact: dict[str, search.Ranking], k: int) -> float:
    """Mean share of each query's exact top k that the approximate top k finds (queries with no exact hit skipped)."""
    shares = [
        len({d for d, _ in approximate.get(qid, [])[:k]} & {d for d, _ in ranking[:k]}) / min(k, len(ranking))
        for qid, ranking in exact.items()
        if ranking
    ]
    return float(np.mean(shares)) if shares else float("nan")


def node_memory(client: OpenSearch) -> dict[str, Any]:
    """The node's JVM heap and circuit breakers (node stats), and resident memory (/proc, for a local node).

    neural-search's breaker bounds SEISMIC's heap caches (default 10% of the heap); what it
    refuses to cache is read from the index files at query time instead.
    """
    stats = next(iter(client.nodes.stats(metric="jvm,breaker")["nodes"].values()))
    heap = stats["jvm"]["mem"]
    pid = next(iter(client.nodes.info(metric="process")["nodes"].values()))["process"]["id"]
    return {
        "heap_max_bytes": heap["heap_max_in_bytes"],
        "heap_used_bytes": heap["heap_used_in_bytes"],
        "non_heap_used_bytes": heap["non_heap_used_in_bytes"],
        "rss_bytes": _local_node_rss(pid),
        "breakers": {
            name: {"limit_bytes": breaker["limit_size_in_bytes"], "estimated_bytes": breaker["estimated_size_in_bytes"]}
            for name, breaker in stats["breakers"].items()
        },
    }


def _local_node_rss(pid: int) -> int | None:
    """VmRSS of `pid` when that process is an OpenSearch JVM on this machine (None for a remote cluster)."""
    try:
        if b"opensearch" not in Path(f"/proc/{pid}/cmdline").read_bytes().lower():
            return None
        return resident_memory_bytes(pid)
    except OSError:
        return None
