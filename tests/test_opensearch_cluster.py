"""The local cluster: each node's ports, directories and discovery; indices sized for the cluster; and a real data
node killed while queries run.

The first tests need no node. The live one (`--cluster`) starts a cluster of three nodes of its
own (heap 512m each, HTTP ports from --cluster-port), builds a BM25 index and a rank_features
index with one replica of each shard, runs queries against both in a thread, SIGKILLs the JVM of
a data node that is not the cluster manager mid-run, and checks that every query answered, with
the top 10 it had before, while the cluster went yellow; then it starts the node again and waits
for green. The client knows every node's URL, so a request the dead node drops is sent again to
another node by the client itself: the caller sees no error and retries nothing.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from opensearchpy import OpenSearch

from helpers import DEPLOY_TEST_PARAMS, ROOT
from nsparse.cli import main
from nsparse.config import load_params
from nsparse.data import write_benchmark
from nsparse.opensearch import index, ml, search
from nsparse.opensearch.client import ClusterSettings, connect
from nsparse.opensearch.install import Installer, NodeError, NodeLayout, NodeMember, node_config
from nsparse.opensearch.node import Node, check_ports_free, resident_memory_bytes
from nsparse.opensearch.settings import node_settings, node_urls
from nsparse.pipeline.deploy import DOC_MODEL, cleanup, deploy_variant

NODES = 3
HEAP = "512m"
PARAMS = load_params(ROOT / "params.yaml")


def test_one_node_keeps_the_layout_and_single_node_discovery_it_always_had(tmp_path):
    layout = NodeLayout(tmp_path, "2.19.1")
    [node] = layout.members(1, 9200)
    assert (node.name, node.http_port, node.transport_port) == ("nsparse-node", 9200, 9300)
    assert (node.config, node.data, node.logs, node.pid_file) == (
        tmp_path / "opensearch-2.19.1" / "config",
        tmp_path / "data",
        tmp_path / "logs",
        tmp_path / "opensearch.pid",
    )
    settings = yaml.safe_load(node_config(node, [node], bootstrapped=False))
    assert settings["discovery.type"] == "single-node" and settings["node.name"] == "nsparse-node"
    assert "discovery.seed_hosts" not in settings and "cluster.initial_cluster_manager_nodes" not in settings
    assert (settings["http.port"], settings["transport.port"], settings["path.data"]) == (
        9200,
        9300,
        str(tmp_path / "data"),
    )


def test_each_node_of_a_cluster_has_its_own_ports_and_directories_and_finds_the_others(tmp_path):
    members = NodeLayout(tmp_path, "2.19.1").members(3, 9210)
    assert [(node.http_port, node.transport_port) for node in members] == [(9210, 9310), (9211, 9311), (9212, 9312)]
    paths = [path for node in members for path in (node.config, node.data, node.logs, node.pid_file)]
    assert len(set(paths)) == len(paths) and all(path.is_relative_to(tmp_path / "cluster-3") for path in paths)
    for node in members:
        first_start = yaml.safe_load(node_config(node, members, bootstrapped=False))
        assert (first_start["node.name"], first_start["http.port"], first_start["transport.port"]) == (
            node.name,
            node.http_port,
            node.transport_port,
        )
        assert first_start["path.data"] == str(node.data) and first_start["path.logs"] == str(node.logs)
        assert first_start["discovery.seed_hosts"] == ["127.0.0.1:9310", "127.0.0.1:9311", "127.0.0.1:9312"]
        assert first_start["cluster.initial_cluster_manager_nodes"] == [f"nsparse-node-{i}" for i in range(3)]
        assert "discovery.type" not in first_start
        assert first_start["plugins.ml_commons.only_run_on_ml_node"] is False  # models run on every data node
        restart = yaml.safe_load(node_config(node, members, bootstrapped=True))
        assert "cluster.initial_cluster_manager_nodes" not in restart
        assert restart["discovery.seed_hosts"] == first_start["discovery.seed_hosts"]


def test_a_cluster_node_gets_its_own_config_and_djl_cache_and_leaves_the_distributions_alone(tmp_path):
    installer = Installer(PARAMS.opensearch.merged({"nodes": 2, "heap": "512m"}), tmp_path)
    shared_config = installer.layout.distribution / "config"
    shared_config.mkdir(parents=True)
    (shared_config / "jvm.options").write_text("-XX:HeapDumpPath=data\n9-:-Xlog:gc*:file=logs/gc.log:utctime\n")
    (shared_config / "log4j2.properties").write_text("logging\n")
    (shared_config / "opensearch.yml").write_text("the single node's settings\n")
    libtorch = installer.layout.data / "ml_cache" / "pytorch" / "2.5.1-cpu" / "libtorch.so"
    libtorch.parent.mkdir(parents=True)
    libtorch.write_bytes(b"native code")
    members = installer.layout.members(2, 9210)

    installer.write_config(members[1], members)
    installer.seed_member_djl_cache(members[1])

    config = members[1].config
    assert (config / "log4j2.properties").read_text() == "logging\n"
    assert (config / "jvm.options").read_text() == (
        f"-XX:HeapDumpPath={members[1].data}\n9-:-Xlog:gc*:file={members[1].logs}/gc.log:utctime\n"
    )
    assert (config / "jvm.options.d" / "nsparse.options").read_text() == "-Xms512m\n-Xmx512m\n"
    assert yaml.safe_load((config / "opensearch.yml").read_text())["node.name"] == "nsparse-node-1"
    assert (shared_config / "opensearch.yml").read_text() == "the single node's settings\n"
    assert not (shared_config / "jvm.options.d").exists()
    linked = members[1].data / "ml_cache" / "pytorch" / "2.5.1-cpu" / "libtorch.so"
    assert linked.stat().st_ino == libtorch.stat().st_ino  # a hard link: no second copy of libtorch


def test_a_port_in_use_is_named_with_its_node_before_anything_starts(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        second = NodeLayout(tmp_path, "2.19.1").members(3, port - 1)[1]
        with pytest.raises(NodeError, match=rf"node nsparse-node-1: HTTP port {port} on 127.0.0.1 is in use"):
            check_ports_free([second])


def test_the_cluster_size_comes_from_params_or_the_environment_and_the_client_knows_every_node(monkeypatch):
    monkeypatch.delenv("NSPARSE_OPENSEARCH_URL", raising=False)
    monkeypatch.setenv("NSPARSE_OPENSEARCH_PORT", "9210")
    two_nodes = PARAMS.opensearch.merged({"nodes": 2})
    assert node_urls(node_settings(two_nodes)) == ["http://127.0.0.1:9210", "http://127.0.0.1:9211"]
    monkeypatch.setenv("NSPARSE_OPENSEARCH_NODES", "3")
    assert node_settings(two_nodes).nodes == 3
    cluster = ClusterSettings.from_env()
    assert cluster.url == "http://127.0.0.1:9210"
    assert cluster.other_urls == ("http://127.0.0.1:9211", "http://127.0.0.1:9212")
    monkeypatch.setenv("NSPARSE_OPENSEARCH_URL", "https://search.example.org:9200")
    assert ClusterSettings.from_env().other_urls == ()  # an external cluster is only the URL it names
    monkeypatch.setenv("NSPARSE_OPENSEARCH_NODES", "0")
    with pytest.raises(ValueError, match="NSPARSE_OPENSEARCH_NODES: nodes: .*greater than 0"):
        node_settings(PARAMS.opensearch)


def test_node_commands_refuse_a_cluster_of_no_nodes_and_name_the_nodes_there_are(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NSPARSE_HOME", str(tmp_path))
    monkeypatch.setenv("NSPARSE_OPENSEARCH_NODES", "2")
    with pytest.raises(SystemExit):
        main(["node", "up", "--nodes", "0"])
    assert "at least 1" in capsys.readouterr().err
    assert main(["node", "logs", "--node", "2"]) == 1
    assert "no node 2; nodes are 0..1" in capsys.readouterr().err
    assert main(["node", "logs", "--node", "1", "-n", "5"]) == 0
    assert f"(no log yet under {tmp_path / 'opensearch'}" in (shown := capsys.readouterr().out)
    assert "cluster-2/node-1/logs" in shown


def test_indices_get_a_shard_per_data_node_and_a_replica_only_on_a_cluster():
    assert index.sized_for_cluster(index.text_index_body(), 1) == index.text_index_body()  # one node: as written
    assert index.text_index_body()["settings"]["index"] == {"number_of_shards": 1, "number_of_replicas": 0}
    body = index.sparse_index_body()
    sized = index.sized_for_cluster(body, 3)
    assert sized["settings"]["index"] == {"number_of_shards": 3, "number_of_replicas": 1}
    assert sized["mappings"] == body["mappings"] and body == index.sparse_index_body()  # a copy: body unchanged
    assert index.sized_for_cluster({"settings": {"analysis": {}}}, 2)["settings"]["index"] == {
        "number_of_shards": 2,
        "number_of_replicas": 1,
    }


# --- a real cluster, a real node failure ---------------------------------------------------------------------

BM25_INDEX = "nsparse-test-cluster-bm25"
SPARSE_INDEX = "nsparse-test-cluster-sparse"
WORDS = ["서울", "부산", "대한민국", "수도", "도시", "항구", "김치", "음식", "기차", "시간", "학교", "도서관", "책"]
DOCUMENTS = 400
# (index, query clause): BM25 with nori, and neural_sparse over rank_features with tokens given.
QUERIES = [
    *(
        (BM25_INDEX, {"match": {"text": text}})
        for text in ("서울 수도", "부산 항구 도시", "김치 음식", "학교 도서관 책")
    ),
    *(
        (SPARSE_INDEX, {"neural_sparse": {index.SPARSE_FIELD: {"query_tokens": tokens}}})
        for tokens in ({"서울": 1.0, "수도": 0.7}, {"기차": 1.0, "시간": 0.4}, {"도서관": 0.8, "책": 1.0})
    ),
]


def _documents() -> list[dict[str, Any]]:
    """Documents of 5 to 15 words drawn from WORDS; `number` breaks score ties so a top 10 is one list."""
    draw = random.Random(0)
    documents = []
    for number in range(DOCUMENTS):
        words = draw.choices(WORDS, k=draw.randint(5, 15))
        documents.append({"_id": f"d{number}", "number": number, "text": " ".join(words), "words": Counter(words)})
    return documents


@dataclass(frozen=True)
class Answer:
    query: int  # position in QUERIES
    sent_at: float  # time.monotonic()
    top10: list[str] | None = None
    error: str | None = None


class QueryLoop:
    """Sends QUERIES round and round from a thread, recording every answer, until `stop()`."""

    def __init__(self, client: OpenSearch) -> None:
        self.client = client
        self.answers: list[Answer] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            for position in range(len(QUERIES)):
                self.answers.append(ask(self.client, position))

    def wait_for_answers(self, count: int, sent_after: float = 0.0) -> None:
        while sum(answer.sent_at > sent_after for answer in self.answers) < count:
            time.sleep(0.05)

    def stop(self) -> list[Answer]:
        self._stopping.set()
        self._thread.join()
        return self.answers


def ask(client: OpenSearch, position: int) -> Answer:
    """One query as nsparse sends it (`complete_search`: a partial answer is asked again, then an error);
    any error is recorded, not raised."""
    name, clause = QUERIES[position]
    sent_at = time.monotonic()
    body = {"size": 10, "_source": False, "query": clause, "sort": [{"_score": "desc"}, {"number": "asc"}]}
    try:
        response = search.complete_search(client, name, body)
    except Exception as err:
        return Answer(position, sent_at, error=f"{type(err).__name__}: {err}")
    return Answer(position, sent_at, top10=[hit["_id"] for hit in response["hits"]["hits"]])


@pytest.fixture(scope="module")
def local_cluster(request: pytest.FixtureRequest) -> Iterator[tuple[Node, float]]:
    """A cluster of three nodes of the test's own (stopped at the end), and how long `up` took."""
    if os.environ.get("NSPARSE_OPENSEARCH_URL"):
        pytest.skip("starts and kills local nodes; never a cluster named by NSPARSE_OPENSEARCH_URL")
    port = request.config.getoption("--cluster-port")
    settings = node_settings().merged({"nodes": NODES, "heap": HEAP, "port": port})
    cluster = Node(settings)
    started = time.monotonic()
    cluster.up()
    up_s = time.monotonic() - started
    yield cluster, up_s
    cluster.down()


def _node_figures(cluster: Node, client: OpenSearch) -> str:
    heaps = {row["name"]: row["heap.max"] for row in client.cat.nodes(format="json", h="name,heap.max")}
    return ", ".join(
        f"{member.name} heap {heaps.get(member.name)} RSS {resident_memory_bytes(pid) / 2**20:.0f} MiB"
        for member in cluster.members
        if (pid := cluster.pid(member)) is not None
    )


def _victim(cluster: Node, client: OpenSearch) -> NodeMember:
    """The last data node that is not the elected cluster manager: losing it must not need an election."""
    rows = client.cat.nodes(format="json", h="name,node.role,cluster_manager")
    names = {row["name"] for row in rows if "d" in row["node.role"] and row["cluster_manager"] != "*"}
    return [member for member in cluster.members if member.name in names][-1]


def _wait_for_health(client: OpenSearch, nodes: int, status: str, timeout_s: float) -> dict[str, Any]:
    """Cluster health once it has `nodes` nodes and `status` (polled: opensearch-py sends `timeout=` as its own)."""
    deadline = time.monotonic() + timeout_s
    while (health := client.cluster.health())["number_of_nodes"] != nodes or health["status"] != status:
        assert time.monotonic() < deadline, f"after {timeout_s}s the cluster is {health}, not {status} with {nodes}"
        time.sleep(0.2)
    return health


@pytest.mark.opensearch
@pytest.mark.cluster
def test_queries_keep_answering_from_replicas_when_a_data_node_is_killed(local_cluster, capsys, caplog):
    cluster, up_s = local_cluster
    test_started = time.monotonic()
    urls = node_urls(cluster.settings)
    client = connect(ClusterSettings(url=urls[0], other_urls=tuple(urls[1:])), timeout_s=30)
    documents = _documents()
    index.create_index(client, BM25_INDEX, index.text_index_body(), replace=True)
    index.create_index(client, SPARSE_INDEX, index.sparse_index_body(), replace=True)
    for name in (BM25_INDEX, SPARSE_INDEX):
        shape = client.indices.get_settings(index=name)[name]["settings"]["index"]
        assert (shape["number_of_shards"], shape["number_of_replicas"]) == (str(NODES), "1")
    bm25_docs = ({"_id": doc["_id"], "number": doc["number"], "text": doc["text"]} for doc in documents)
    sparse_docs = (
        {"_id": doc["_id"], "number": doc["number"], index.SPARSE_FIELD: dict(doc["words"])} for doc in documents
    )
    assert index.bulk_index(client, BM25_INDEX, bm25_docs, progress=False) == DOCUMENTS
    assert index.bulk_index(client, SPARSE_INDEX, sparse_docs, progress=False) == DOCUMENTS
    _wait_for_health(client, NODES, "green", timeout_s=120)  # every replica allocated before the kill
    expected = [ask(client, position) for position in range(len(QUERIES))]
    assert all(answer.top10 and len(answer.top10) == 10 for answer in expected), expected
    figures_before = _node_figures(cluster, client)

    loop = QueryLoop(client)
    loop.wait_for_answers(3 * len(QUERIES))
    victim = _victim(cluster, client)
    killed_at = time.monotonic()
    os.kill(cluster.pid(victim), signal.SIGKILL)
    degraded = _wait_for_health(client, NODES - 1, "yellow", timeout_s=60)
    noticed_s = time.monotonic() - killed_at
    loop.wait_for_answers(20 * len(QUERIES), sent_after=killed_at)
    answers = loop.stop()

    failed = [answer for answer in answers if answer.error]
    assert not failed, f"{len(failed)} of {len(answers)} queries failed, first: {failed[0]}"
    changed = [answer for answer in answers if answer.top10 != expected[answer.query].top10]
    assert not changed, f"{len(changed)} answers differ from the answer before the kill, first: {changed[0]}"
    after_kill = [answer for answer in answers if answer.sent_at > killed_at]
    assert len(after_kill) >= 20 * len(QUERIES)
    # The client did send requests to the dead node, and sent them again to a live one by itself.
    dead_node_failures = {conn.host: count for conn, count in client.transport.connection_pool.dead_count.items()}
    assert dead_node_failures.get(victim.url, 0) >= 1, dead_node_failures
    assert degraded["unassigned_shards"] > 0  # yellow: the dead node's copies are missing, no primary is lost
    assert client.count(index=BM25_INDEX)["count"] == client.count(index=SPARSE_INDEX)["count"] == DOCUMENTS

    restarted_at = time.monotonic()
    cluster.up()  # starts the killed node again (it finds the others as they are)
    _wait_for_health(client, NODES, "green", timeout_s=180)
    rejoin_s = time.monotonic() - restarted_at
    assert [ask(client, position).top10 for position in range(len(QUERIES))] == [a.top10 for a in expected]
    index.delete_index(client, "nsparse-test-cluster-*")
    with capsys.disabled():
        print(
            f"\ncluster: up {up_s:.1f}s ({figures_before}); killed {victim.name} after "
            f"{sum(a.sent_at <= killed_at for a in answers)} queries; cluster saw it leave after {noticed_s:.1f}s "
            f"(status {degraded['status']}); {len(after_kill)} queries after the kill, 0 failed, 0 changed, "
            f"{dead_node_failures[victim.url]} client-side failovers from the dead node, "
            f"{caplog.text.count('asking again')} queries asked again; "
            f"restart to green {rejoin_s:.1f}s; test {time.monotonic() - test_started:.1f}s"
        )


@pytest.mark.opensearch
@pytest.mark.cluster
def test_the_pipelines_deploy_runs_on_the_cluster_with_models_on_every_node(local_cluster, exported_variant, tmp_path):
    """deploy@<variant>'s own code on three nodes: both models deploy to every node, the index is sized for the
    cluster, ML Commons' ingest pipeline encodes the documents, and a neural_sparse query encodes on the cluster."""
    cluster, _ = local_cluster
    cluster.up()  # every node, whatever an earlier test left stopped
    urls = node_urls(cluster.settings)
    client = connect(ClusterSettings(url=urls[0], other_urls=tuple(urls[1:])), timeout_s=60)
    _wait_for_health(client, NODES, "green", timeout_s=180)
    model_dir, export_dir = exported_variant
    corpus = {doc["_id"]: {"title": "", "text": doc["text"]} for doc in _documents()[:40]}
    write_benchmark(tmp_path / "ko", corpus, {"q0": "서울 수도"}, {"test": {"q0": {"d0": 1}}})
    done = deploy_variant(
        client, "tiny", model_dir, export_dir, {"ko": tmp_path / "ko"}, DEPLOY_TEST_PARAMS, PARAMS.export
    )
    try:
        assert done.complete and done.ingest == "pipeline"
        for model_id in (done.query_model_id("ko"), done.models("ko").doc_model_id):
            model = ml.get_model(client, model_id)
            assert (model["model_state"], model["current_worker_node_count"]) == ("DEPLOYED", NODES), model
        name = done.indices["ko"]
        shape = client.indices.get_settings(index=name)[name]["settings"]["index"]
        assert (shape["number_of_shards"], shape["number_of_replicas"]) == (str(NODES), "1")
        assert client.count(index=name)["count"] == len(corpus)
        assert search.neural_sparse_model(
            client, name, index.SPARSE_FIELD, "서울 수도", done.query_model_id("ko"), k=10
        )
    finally:
        cleanup(client, done)
        ml.delete_model_group(client, done.model_group_id)


@pytest.mark.opensearch
@pytest.mark.cluster
def test_a_deploy_already_running_on_the_cluster_is_waited_for_not_taken_for_a_refusal(
    local_cluster, exported_variant, caplog
):
    """On several nodes ML Commons fails a second deploy of a model still deploying ("Duplicate deploy model
    task" from every node), as after its own auto-redeploy when a cluster restarts: deploy waits for the first."""
    cluster, _ = local_cluster
    cluster.up()
    urls = node_urls(cluster.settings)
    client = connect(ClusterSettings(url=urls[0], other_urls=tuple(urls[1:])), timeout_s=60)
    _wait_for_health(client, NODES, "green", timeout_s=180)
    _, export_dir = exported_variant
    group_id = ml.ensure_model_group(client, "nsparse-test-duplicate", "nsparse tests")
    model_id = ml.register_model_zip(
        client,
        export_dir / DOC_MODEL.zip_name,
        name="nsparse-test-duplicate",
        version="1.0.0",
        function_name=DOC_MODEL.function_name,
        model_format=DOC_MODEL.model_format,
        model_group_id=group_id,
        description="nsparse test model",
    )
    try:
        # Which of two deploys sent back to back reaches the nodes first is a race (measured: ours came second,
        # and was answered as a duplicate, in 4 of 10 tries), so try until it does.
        for _ in range(10):
            client.transport.perform_request("POST", f"{ml.ML_API}/models/{model_id}/_deploy")  # not waited for
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="nsparse.opensearch.ml"):
                ml.deploy_model(client, model_id, timeout_s=180)
            model = ml.get_model(client, model_id)
            assert (model["model_state"], model["current_worker_node_count"]) == ("DEPLOYED", NODES), model
            if "a deploy of it is already running" in caplog.text:
                break  # ML Commons answered ours as a duplicate, and deploy waited for the first
            ml.undeploy_model(client, model_id)
        else:
            pytest.fail("in 10 tries the second deploy never reached the nodes while the first was still running")
    finally:
        ml.delete_model(client, model_id, missing_ok=True)
        ml.delete_model_group(client, group_id)
