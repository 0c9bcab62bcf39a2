"""Timing a search client: systems taking turns query by query, throughput, percentiles, sustained load.

The benchmark stage and `nsparse bench scale` time their systems with `run_interleaved` (the
systems take turns query by query, so whatever else the machine does falls on all of them
alike) and `throughput`; `nsparse bench scale` with concurrent clients.

`run_load` is apart from those: they send a fixed, short list of queries; a load test holds
N clients busy for a fixed time, so queueing, connection pool limits, garbage collection
pauses and refused requests show up. Errors are counted (with the first few messages),
never raised: a load test reports how a cluster fails under load instead of stopping at
the first failure.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from nsparse.opensearch.client import OpenSearchError

Searcher = Callable[[str], Sequence[tuple[str, float]]]  # one query -> its ranking, (doc id, score) best first
Search = Callable[[str], Any]  # one query text -> anything (the ranking is not checked)


@dataclass
class SystemRun:
    run: dict[str, dict[str, float]]
    latencies_ms: list[float]


def turn_order(names: Sequence[str], position: int) -> list[str]:
    """The order in which the systems run the query at `position`: rotated by one per query."""
    shift = position % len(names)
    return [*names[shift:], *names[:shift]]


def run_interleaved(
    searchers: Mapping[str, Searcher], queries: Mapping[str, str], desc: str, clients: int = 1
) -> dict[str, SystemRun]:
    """Run every query once on every system, the systems taking turns query by query, timing each round trip.

    Latency ratios between systems are the cost figures users decide on; timing each system
    in its own block would let whatever else the machine does meanwhile (a merge, a GC, a
    background job) fall on one system only. Here each query visits every system back to
    back, in an order rotated from query to query, so no system always goes first (warm
    caches) and every system sees the same conditions. With one client the searches run in
    the calling thread, one after the other; with more, `clients` threads take the turns in
    that order.
    """
    names = list(searchers)
    turns = [(name, qid) for position, qid in enumerate(queries) for name in turn_order(names, position)]

    def timed(turn: tuple[str, str]) -> tuple[Sequence[tuple[str, float]], float]:
        name, qid = turn
        start = time.perf_counter()
        hits = searchers[name](queries[qid])
        return hits, (time.perf_counter() - start) * 1000

    runs = {name: SystemRun({}, []) for name in names}
    with ThreadPoolExecutor(max_workers=clients) if clients > 1 else nullcontext() as pool:
        timings = pool.map(timed, turns) if pool else map(timed, turns)
        for (name, qid), (hits, milliseconds) in zip(
            turns, tqdm(timings, total=len(turns), desc=desc, unit="search", leave=False)
        ):
            runs[name].latencies_ms.append(milliseconds)
            runs[name].run[qid] = {doc_id: score for doc_id, score in hits}
    return runs


def run_queries(searcher: Searcher, queries: Mapping[str, str], desc: str) -> SystemRun:
    """Run every query once, sequentially, timing each round trip (the latency sample)."""
    return run_interleaved({desc: searcher}, queries, desc)[desc]


def throughput(searcher: Search, texts: Sequence[str], clients: int) -> float:
    """Queries per second with `clients` concurrent clients over a bounded list of queries."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(searcher, texts))
    return len(texts) / (time.perf_counter() - start)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def latency_percentiles(latencies_ms: Sequence[float]) -> dict[str, float]:
    """The p50 and p99 of a latency sample, as the reports name them."""
    return {"latency_p50_ms": percentile(latencies_ms, 50), "latency_p99_ms": percentile(latencies_ms, 99)}


def run_load(search: Search, texts: Sequence[str], clients: int, seconds: float) -> dict[str, Any]:
    """`clients` threads send `texts` round-robin through `search` for `seconds`; return the figures."""
    if not texts:
        raise ValueError("run_load: no query texts")
    if clients < 1 or seconds <= 0:
        raise ValueError(f"run_load: clients must be >= 1 and seconds > 0, got {clients} and {seconds}")
    next_text = itertools.cycle(texts).__next__
    lock = threading.Lock()
    latencies: list[float] = []
    completed_at: list[float] = []
    errors: Counter[str] = Counter()
    started = time.perf_counter()
    deadline = started + seconds

    def client() -> None:
        while time.perf_counter() < deadline:
            with lock:
                text = next_text()
            begin = time.perf_counter()
            try:
                search(text)
            except OpenSearchError as err:
                with lock:
                    errors[str(err)] += 1
                continue
            end = time.perf_counter()
            with lock:
                latencies.append(end - begin)
                completed_at.append(end - started)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    elapsed = time.perf_counter() - started
    millis = np.array(latencies) * 1000.0
    per_second = np.bincount(np.array(completed_at, dtype=int), minlength=int(np.ceil(seconds))) if completed_at else []
    return {
        "clients": clients,
        "seconds": round(elapsed, 3),
        "requests": len(latencies),
        "errors": sum(errors.values()),
        "error_examples": dict(errors.most_common(3)),
        "throughput_qps": round(len(latencies) / elapsed, 2),
        "latency_ms": {
            name: round(float(np.percentile(millis, q)), 3) if len(millis) else None
            for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))
        },
        "completed_per_second": [int(count) for count in per_second],
    }
