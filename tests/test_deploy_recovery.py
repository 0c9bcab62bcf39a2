"""Deploy after a failure: the record is written as deploy goes, a dead node is reported as dead, reruns recover.

Two kinds of death. In most tests the node "dies" for the client only: the client
talks to the live node through a local TCP proxy that the test shuts at a chosen
moment, so the shared node keeps running for everyone else. One test kills the real
local node (SIGKILL to its JVM) while ingest runs, starts it again and reruns deploy.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from opensearchpy import OpenSearch

from helpers import DEPLOY_TEST_PARAMS, PARAMS, TEXTS
from nsparse.data import write_benchmark
from nsparse.opensearch import index as os_index
from nsparse.opensearch import ml
from nsparse.opensearch.client import ClusterSettings, ClusterUnreachable, connect
from nsparse.opensearch.node import Node
from nsparse.pipeline import deploy
from nsparse.pipeline.deploy import Deployment, cleanup, deploy_variant


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the node until `kill()`, which drops every connection at once."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.alive = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.alive:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def kill(self) -> None:
        self.alive = False
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # close() alone leaves a blocked accept() listening
        except OSError:
            pass
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


@pytest.fixture
def proxied_client(opensearch: OpenSearch) -> tuple[OpenSearch, TcpProxy]:
    settings = ClusterSettings.from_env()
    if settings.scheme != "http":
        pytest.skip("the proxy trick needs a plain-HTTP cluster")
    parts = urlsplit(settings.url)
    proxy = TcpProxy((parts.hostname, parts.port or 80))
    client = connect(
        ClusterSettings(url=f"http://127.0.0.1:{proxy.port}", user=settings.user, password=settings.password),
        timeout_s=30,
    )
    yield client, proxy
    proxy.kill()


@pytest.fixture
def benchmarks(tmp_path: Path) -> dict[str, Path]:
    corpus = {f"d{i}": {"title": "", "text": text} for i, text in enumerate(TEXTS)}
    write_benchmark(tmp_path / "ko", corpus, {"q0": "대한민국의 수도"}, {"test": {"q0": {"d0": 1}}})
    return {"ko": tmp_path / "ko"}


@pytest.mark.opensearch
@pytest.mark.slow
def test_a_node_dying_mid_deploy_is_reported_recorded_recovered_and_cleaned_up(
    opensearch, proxied_client, exported_variant, benchmarks, tmp_path, monkeypatch, caplog
):
    model_dir, export_dir = exported_variant
    client, proxy = proxied_client
    record = tmp_path / "deploy" / "tiny" / "deployment.json"
    real_deploy = deploy.deploy_replacing_older_versions

    def dies_before_the_document_model(client, name, model_id, timeout_s):
        if name.endswith(f"-{deploy.DOC_MODEL.side}"):
            proxy.kill()
        return real_deploy(client, name, model_id, timeout_s)

    monkeypatch.setattr(deploy, "deploy_replacing_older_versions", dies_before_the_document_model)
    caplog.set_level(logging.WARNING)
    with pytest.raises(ClusterUnreachable) as raised:
        deploy_variant(
            client, "tiny", model_dir, export_dir, benchmarks, DEPLOY_TEST_PARAMS, PARAMS.export, record=record
        )
    message = str(raised.value)
    assert message.startswith("deploy tiny: ") and "stopped answering" in message
    assert f"recorded in {record}" in message and "nsparse cleanup tiny" in message
    assert "could not deploy the ONNX document model" not in caplog.text
    partial = Deployment.load(record)
    partial_models = partial.models("ko")
    assert not partial.complete and partial.model_group_id and partial_models.query_model_id
    assert partial_models.doc_model_id
    with pytest.raises(RuntimeError, match="did not finish: rerun it"):
        partial.require_complete(record)

    # A rerun against the live node recovers: same models (reused by content hash), finished record.
    monkeypatch.setattr(deploy, "deploy_replacing_older_versions", real_deploy)
    done = deploy_variant(
        opensearch, "tiny", model_dir, export_dir, benchmarks, DEPLOY_TEST_PARAMS, PARAMS.export, record=record
    )
    assert Deployment.load(record) == done and done.complete and done.ingest == "pipeline"
    assert (done.models("ko").query_model_id, done.models("ko").doc_model_id) == (
        partial_models.query_model_id,
        partial_models.doc_model_id,
    )
    assert opensearch.count(index=done.indices["ko"])["count"] == len(TEXTS)

    # Dying half-way through indexing leaves a record naming the index; cleanup removes everything it names.
    opensearch.indices.delete(index=done.indices["ko"])
    proxy = TcpProxy(proxy.target)
    client = connect(ClusterSettings(url=f"http://127.0.0.1:{proxy.port}"), timeout_s=30)
    real_bulk = os_index.bulk_index

    def dies_while_indexing(*args, **kwargs):
        proxy.kill()
        return real_bulk(*args, **kwargs)

    monkeypatch.setattr(os_index, "bulk_index", dies_while_indexing)
    with pytest.raises(
        ClusterUnreachable, match=r"deploy tiny: indexing into nsparse-test-tiny-\w+: the cluster stopped"
    ):
        deploy_variant(
            client, "tiny", model_dir, export_dir, benchmarks, DEPLOY_TEST_PARAMS, PARAMS.export, record=record
        )
    half = Deployment.load(record)
    assert not half.complete and half.indices == done.indices and half.models("ko").ingest_pipeline
    assert opensearch.indices.exists(index=half.indices["ko"])

    cleanup(opensearch, half)
    assert not opensearch.indices.exists(index=half.indices["ko"])
    for side in (deploy.DOC_MODEL, deploy.QUERY_MODEL):
        assert (
            ml.find_models(
                opensearch, deploy.model_name(DEPLOY_TEST_PARAMS.index_prefix, "tiny", side, half.corpus_of["ko"])
            )
            == []
        )
    cleanup(opensearch, half)  # a second cleanup finds nothing left, and that is fine


@pytest.mark.opensearch
@pytest.mark.slow
def test_the_real_node_killed_during_ingest_then_restarted_converges_without_orphans(
    opensearch, exported_variant, tmp_path, monkeypatch
):
    if os.environ.get("NSPARSE_OPENSEARCH_URL"):
        pytest.skip("kills and restarts the local node; never a cluster named by NSPARSE_OPENSEARCH_URL")
    node = Node()
    model_dir, export_dir = exported_variant
    corpus = {f"d{i}": {"title": "", "text": TEXTS[i % len(TEXTS)] + f" {i}"} for i in range(40)}
    write_benchmark(tmp_path / "ko", corpus, {"q0": "대한민국의 수도"}, {"test": {"q0": {"d0": 1}}})
    benchmarks = {"ko": tmp_path / "ko"}
    params = DEPLOY_TEST_PARAMS.merged({"bulk_batch_size": 5})
    record = tmp_path / "deploy" / "tiny" / "deployment.json"
    real_bulk = os_index.bulk_index

    def killed_after_a_few_documents(docs: Iterable[dict]) -> Iterator[dict]:
        for count, doc in enumerate(docs):
            if count == 12:  # two batches are in, the third is being sent
                os.kill(node.pid(), signal.SIGKILL)
                while node.answers():
                    time.sleep(0.2)
            yield doc

    def ingest_that_kills_the_node(client, index, docs, **kwargs):
        return real_bulk(client, index, killed_after_a_few_documents(docs), **kwargs)

    monkeypatch.setattr(os_index, "bulk_index", ingest_that_kills_the_node)
    try:
        with pytest.raises(ClusterUnreachable, match=r"deploy tiny: indexing into nsparse-test-tiny-\w+"):
            deploy_variant(opensearch, "tiny", model_dir, export_dir, benchmarks, params, PARAMS.export, record=record)
        half = Deployment.load(record)
        assert not half.complete and half.indices and half.models("ko").doc_model_id
        assert half.models("ko").query_model_id
    finally:
        node.up()  # the rest of the session needs the node

    monkeypatch.setattr(os_index, "bulk_index", real_bulk)
    done = deploy_variant(opensearch, "tiny", model_dir, export_dir, benchmarks, params, PARAMS.export, record=record)
    assert done.complete and done.models("ko") == half.models("ko")
    assert opensearch.count(index=done.indices["ko"])["count"] == len(corpus)  # the half-built index was rebuilt
    for side in (deploy.DOC_MODEL, deploy.QUERY_MODEL):  # no orphan: one registered model per side, as recorded
        assert (
            len(ml.find_models(opensearch, deploy.model_name(params.index_prefix, "tiny", side, done.corpus_of["ko"])))
            == 1
        )
    cleanup(opensearch, done)
