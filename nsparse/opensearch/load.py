"""Sustained concurrent load on a live index: latency percentiles, throughput and errors over time.

Why apart from the benchmark's throughput figure: that one sends a fixed, short list of
queries; a load test holds N clients busy for a fixed time, so queueing, connection
pool limits, garbage collection pauses and refused requests show up. Errors are
counted (with the first few messages), never raised: a load test reports how a
cluster fails under load instead of stopping at the first failure.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from nsparse.opensearch.client import OpenSearchError

Search = Callable[[str], Any]  # one query text -> anything (the ranking is not checked)


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
