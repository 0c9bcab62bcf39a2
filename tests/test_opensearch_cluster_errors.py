"""Cluster faults a user meets, each one clear line: untrusted TLS, HTTP 5xx, refusing vs silent clusters, secrets.

Local stand-ins (python's http.server, TLS with a throw-away self-signed certificate
made by the openssl CLI) answer like a cluster does: no OpenSearch node is needed.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nsparse.opensearch.client import (
    CertificateUntrusted,
    ClusterRefused,
    ClusterSettings,
    OpenSearchError,
    connect,
    refused_as,
)

PASSWORD = "s3cret-Pa55word!"
INFO = {"name": "n1", "cluster_name": "stand-in", "version": {"number": "2.19.1", "distribution": "opensearch"}}
UNAVAILABLE = {
    "error": {
        "root_cause": [
            {"type": "cluster_block_exception", "reason": "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered];"}
        ],
        "type": "cluster_block_exception",
        "reason": "blocked",
    },
    "status": 503,
}
Responder = Callable[[str], tuple[int, bytes]]  # path -> (status, JSON body)


def _handler(respond: Responder) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            status, body = respond(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Start a stand-in cluster answering with `respond`, over TLS when given a (cert, key); returns its URL."""
    servers = []

    def start(respond: Responder, tls: tuple[Path, Path] | None = None) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(respond))
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*map(str, tls))
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl CLI")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _json(status: int, body: dict) -> Callable[[str], tuple[int, bytes]]:
    return lambda path: (status, json.dumps(body).encode())


def _with_credentials(url: str) -> str:
    scheme, rest = url.split("://")
    return f"{scheme.upper()}://analyst:{PASSWORD}@{rest}"


def test_an_untrusted_certificate_names_the_tls_cause_and_the_ca_variable(serve, self_signed, caplog):
    caplog.set_level(logging.DEBUG)
    url = serve(_json(200, INFO), tls=self_signed)
    settings = ClusterSettings(url=_with_credentials(url))  # HTTPS:// in capitals is still https
    with pytest.raises(CertificateUntrusted) as raised:
        connect(settings, timeout_s=5)
    message = str(raised.value)
    assert message.startswith(f"{url}: TLS failed (certificate verify failed: self-signed certificate)")
    assert "NSPARSE_OPENSEARCH_CA_CERTS" in message
    for shown in (message, repr(settings), caplog.text):
        assert PASSWORD not in shown and "analyst:" not in shown


def test_a_trusted_ca_connects_over_https_and_a_503_gives_the_servers_reason(serve, self_signed):
    url = serve(_json(503, UNAVAILABLE), tls=self_signed)
    with pytest.raises(ClusterRefused) as raised:
        connect(ClusterSettings(url=url.replace("https://", "HTTPS://"), ca_certs=str(self_signed[0])), timeout_s=5)
    assert str(raised.value) == (
        f"{url} answers but refused the request (HTTP 503): "
        "cluster_block_exception: blocked by: [SERVICE_UNAVAILABLE/1/state not recovered];"
    )


def test_a_500_during_an_operation_is_an_error_with_the_reason_not_a_transport_traceback(serve):
    def respond(path: str) -> tuple[int, bytes]:
        if path == "/":
            return 200, json.dumps(INFO).encode()
        return 500, b'{"error": "null_pointer_exception: boom", "status": 500}'

    client = connect(ClusterSettings(url=serve(respond)), timeout_s=5)
    with pytest.raises(OpenSearchError) as raised, refused_as("creating index x"):
        client.indices.create(index="x", body={})
    assert str(raised.value) == "creating index x: HTTP 500: null_pointer_exception: boom"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def _node_status(url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NSPARSE_OPENSEARCH_URL": url,
        "NSPARSE_OPENSEARCH_USER": "analyst",
        "NSPARSE_OPENSEARCH_PASSWORD": PASSWORD,
    }
    return subprocess.run(
        [sys.executable, "-m", "nsparse.cli", "node", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("status", "body", "rc", "expected"),
    [
        (200, INFO, 0, "up: {url} (NSPARSE_OPENSEARCH_URL): OpenSearch 2.19.1, cluster stand-in"),
        (
            401,
            {"error": "Unauthorized", "status": 401},
            2,
            "refuses: {url} (NSPARSE_OPENSEARCH_URL) answers but refuses: ",
        ),
        (
            500,
            UNAVAILABLE,
            2,
            "refuses: {url} (NSPARSE_OPENSEARCH_URL) answers but refuses: {url} answers but refused "
            "the request (HTTP 500): cluster_block_exception",
        ),
        (None, None, 1, "down: nothing answers at {url} (NSPARSE_OPENSEARCH_URL)"),
    ],
    ids=["up", "401", "500", "silent"],
)
def test_node_status_checks_the_configured_cluster_and_tells_refusing_from_silent(serve, status, body, rc, expected):
    url = serve(_json(status, body)) if status else f"http://127.0.0.1:{_free_port()}"
    result = _node_status(_with_credentials(url))
    assert result.returncode == rc, result.stderr
    assert result.stdout.startswith(expected.format(url=url))
    assert PASSWORD not in result.stdout + result.stderr and "analyst:" not in result.stdout + result.stderr
