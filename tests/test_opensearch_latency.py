"""Timing a search client: systems taking turns query by query (alone or with concurrent clients), and the load
test's engine: sustained concurrent queries, latency percentiles, errors counted rather than raised."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch

from nsparse.opensearch import index as os_index
from nsparse.opensearch import search
from nsparse.opensearch.client import ClusterSettings, connect
from nsparse.opensearch.latency import Searcher, latency_percentiles, run_interleaved, run_load

INFO = {"name": "n1", "cluster_name": "stand-in", "version": {"number": "2.19.1"}}


def _recording(names: tuple[str, ...], calls: list[tuple[str, str]]) -> dict[str, Searcher]:
    """Searchers that note each (system, text) they are called with, and find one document named after both."""
    lock = threading.Lock()

    def searcher(system: str) -> Searcher:
        def run(text: str) -> list[tuple[str, float]]:
            with lock:
                calls.append((system, text))
            return [(f"{system}-{text}", 1.0)]

        return run

    return {name: searcher(name) for name in names}


def test_systems_take_turns_query_by_query_and_each_keeps_its_own_run_and_latencies() -> None:
    calls: list[tuple[str, str]] = []
    queries = {"q1": "a", "q2": "b", "q3": "c", "q4": "d"}
    runs = run_interleaved(_recording(("x", "y", "z"), calls), queries, "test")

    # Every query visits every system back to back, the first system rotating from query to query.
    assert calls == [
        ("x", "a"), ("y", "a"), ("z", "a"),
        ("y", "b"), ("z", "b"), ("x", "b"),
        ("z", "c"), ("x", "c"), ("y", "c"),
        ("x", "d"), ("y", "d"), ("z", "d"),
    ]  # fmt: skip
    assert runs["y"].run == {q: {f"y-{t}": 1.0} for q, t in queries.items()}
    assert all(len(run.latencies_ms) == 4 and min(run.latencies_ms) >= 0 for run in runs.values())


def test_concurrent_clients_take_the_same_turns_and_each_system_keeps_its_own_run() -> None:
    calls: list[tuple[str, str]] = []
    queries = {f"q{i}": f"t{i}" for i in range(30)}
    runs = run_interleaved(_recording(("x", "y"), calls), queries, "test", clients=3)
    assert sorted(calls) == sorted((name, text) for text in queries.values() for name in ("x", "y"))
    for name, system_run in runs.items():
        assert list(system_run.run) == list(queries) and len(system_run.latencies_ms) == len(queries)
        assert system_run.run == {q: {f"{name}-{t}": 1.0} for q, t in queries.items()}


def test_latency_percentiles_of_an_empty_sample_are_not_numbers() -> None:
    assert latency_percentiles([1.0, 2.0, 3.0]) == {"latency_p50_ms": 2.0, "latency_p99_ms": pytest.approx(2.98)}
    assert all(value != value for value in latency_percentiles([]).values())


class _Overloaded(http.server.BaseHTTPRequestHandler):
    """Answers `/` like a cluster, and every search with 429, as an overloaded one does."""

    def do_GET(self) -> None:
        self._answer(200, INFO)

    def do_POST(self) -> None:
        self._answer(
            429,
            {
                "error": {"root_cause": [{"type": "rejected_execution_exception", "reason": "queue full"}]},
                "status": 429,
            },
        )

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def overloaded_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Overloaded)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_refused_requests_are_counted_with_their_reason_not_raised(overloaded_url):
    client = connect(ClusterSettings(url=overloaded_url), timeout_s=5)
    figures = run_load(lambda text: search.match(client, "x", "text", text, 10), ["a", "b"], clients=2, seconds=1)
    assert figures["requests"] == 0 and figures["errors"] > 0
    [message] = figures["error_examples"]
    assert message == "searching x: HTTP 429: rejected_execution_exception: queue full"
    assert figures["latency_ms"]["p50"] is None


@pytest.mark.opensearch
def test_concurrent_clients_hold_the_live_index_busy_for_the_given_time(opensearch: OpenSearch):
    index = "nsparse-test-load"
    os_index.create_index(opensearch, index, os_index.text_index_body(), replace=True)
    docs = [
        {"_id": f"d{i}", "title": "", "text": text}
        for i, text in enumerate(["학교에서 공부한다", "병원의 의사", "공원 산책"])
    ]
    os_index.bulk_index(opensearch, index, docs, progress=False)
    figures = run_load(
        lambda text: search.match(opensearch, index, "text", text, 10), ["학교", "의사", "공원"], clients=4, seconds=2
    )
    assert figures["errors"] == 0 and figures["requests"] > 0 and figures["clients"] == 4
    assert 2 <= figures["seconds"] < 4 and sum(figures["completed_per_second"]) == figures["requests"]
    assert 0 < figures["latency_ms"]["p50"] <= figures["latency_ms"]["p99"] <= figures["latency_ms"]["max"]
