"""Shared fixtures: one real OpenSearch node for the whole test session; live tests are opt-in.

Plain `pytest` runs the fast tests that need no node and no network (about a minute on
2 cores). `--slow` adds those marked `slow` (real Debian packages, stages started as
fresh processes); `--live` adds those and the tests marked `opensearch` (any test that
uses the node's fixtures is marked so automatically) or `network` (they fetch from Maven
Central); CI runs with `--live`. `--cluster` alone runs the tests marked `cluster`, which
start a local cluster of three nodes of their own (about 2.5 GB of memory; never part of
`--live`, so CI's default run stays as long as it was).

`opensearch_client` starts the local node once through the launcher (idempotent:
a node that is already up is reused) unless NSPARSE_OPENSEARCH_URL points at a
cluster, and yields a connected client. `opensearch` is the per-test view of it:
everything a test creates under the `nsparse-test-` prefix (indices, pipelines,
ML models and model groups) is deleted after the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from helpers import export_tiny_variant
from llm_fixtures import chat_server, tiny_qwen3, tiny_qwen3_awq, tiny_qwen3_gguf  # noqa: F401  (fixtures for every module)
from nsparse.opensearch import index, ml
from nsparse.opensearch.client import connect
from nsparse.opensearch.node import Node

TEST_PREFIX = "nsparse-test-"
LIVE_MARKERS = ("opensearch", "network")
OPT_IN_MARKERS = (*LIVE_MARKERS, "slow")
NODE_FIXTURES = {"opensearch", "opensearch_client"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run the tests marked slow")
    parser.addoption(
        "--live",
        action="store_true",
        help="also run the slow tests and those that need the OpenSearch node or Maven Central (CI does)",
    )
    parser.addoption(
        "--cluster", action="store_true", help="also run the tests marked cluster (they start three local nodes)"
    )
    parser.addoption(
        "--cluster-port",
        type=int,
        default=9210,
        help="first HTTP port of the test cluster (default 9210: the single node keeps 9200)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if NODE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.opensearch)
    deselected = [item for item in items if _deselected(item, config)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


def _deselected(item: pytest.Item, config: pytest.Config) -> bool:
    """Cluster tests run with --cluster only; other opt-in tests with --live (or --slow, for the slow ones)."""
    if item.get_closest_marker("cluster"):
        return not config.getoption("--cluster")
    if config.getoption("--live"):
        return False
    opt_in = LIVE_MARKERS if config.getoption("--slow") else OPT_IN_MARKERS
    return any(item.get_closest_marker(marker) for marker in opt_in)


def pytest_report_header(config: pytest.Config) -> str:
    cluster = "on" if config.getoption("--cluster") else "off (add --cluster)"
    if config.getoption("--live"):
        return f"live tests: on (OpenSearch node, Maven Central, slow tests); cluster tests: {cluster}"
    slow = "on" if config.getoption("--slow") else "off (add --slow)"
    return (
        "live tests: off (node and network tests deselected; add --live to run them); "
        f"slow tests: {slow}; cluster tests: {cluster}"
    )


@pytest.fixture(scope="session")
def opensearch_client() -> OpenSearch:
    if not os.environ.get("NSPARSE_OPENSEARCH_URL"):
        Node().up()
    return connect()


@pytest.fixture(scope="session")
def exported_variant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(model folder, export folder) of a tiny encoder of the default shape, exported for real."""
    return export_tiny_variant(tmp_path_factory.mktemp("variant"))


@pytest.fixture
def opensearch(opensearch_client: OpenSearch) -> Iterator[OpenSearch]:
    yield opensearch_client
    _delete_test_resources(opensearch_client)


def _delete_test_resources(client: OpenSearch) -> None:
    index.delete_index(client, f"{TEST_PREFIX}*")
    index.delete_ingest_pipeline(client, f"{TEST_PREFIX}*")
    for pipeline in client.transport.perform_request("GET", "/_search/pipeline", params={"ignore": 404}) or {}:
        if pipeline.startswith(TEST_PREFIX):
            index.delete_search_pipeline(client, pipeline)
    if not ml_commons_installed(client):
        return
    groups = client.transport.perform_request(
        "POST",
        f"{ml.ML_API}/model_groups/_search",
        body={"query": {"prefix": {"name.keyword": TEST_PREFIX}}, "size": 1000},
    )
    group_ids = [hit["_id"] for hit in groups["hits"]["hits"]]
    models = client.transport.perform_request(
        "POST",
        f"{ml.ML_API}/models/_search",
        body={
            "query": {
                "bool": {
                    "should": [{"prefix": {"name.keyword": TEST_PREFIX}}, {"terms": {"model_group_id": group_ids}}],
                    "minimum_should_match": 1,
                    "must_not": [{"exists": {"field": "chunk_number"}}],
                }
            },
            "size": 1000,
        },
    )
    for hit in models["hits"]["hits"]:
        ml.delete_model(client, hit["_id"])
    for group_id in group_ids:
        ml.delete_model_group(client, group_id)


def ml_commons_installed(client: OpenSearch) -> bool:
    return any(row["component"] == "opensearch-ml" for row in client.cat.plugins(format="json"))
