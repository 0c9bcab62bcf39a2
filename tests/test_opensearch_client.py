"""Connection handling: clear errors for an unreachable cluster and rejected credentials, no leaked secrets."""

from __future__ import annotations

import base64
import http.server
import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from nsparse.opensearch.client import AuthenticationFailed, ClusterSettings, ClusterUnreachable, connect

PASSWORD = "s3cret-Pa55word!"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_cluster_names_the_url_and_the_fix():
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(ClusterUnreachable) as raised:
        connect(ClusterSettings(url=url), timeout_s=5)
    assert url in str(raised.value)
    assert "nsparse node up" in str(raised.value) and "NSPARSE_OPENSEARCH_URL" in str(raised.value)


class _RejectingHandler(http.server.BaseHTTPRequestHandler):
    """Answers like a secured cluster given wrong credentials, recording what it was sent."""

    received_authorization: list[str] = []

    def do_GET(self) -> None:
        self.received_authorization.append(self.headers.get("Authorization", ""))
        body = b'{"error":"Unauthorized","status":401}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("WWW-Authenticate", 'Basic realm="OpenSearch Security"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def rejecting_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RejectingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_rejected_credentials_are_sent_reported_and_never_shown(rejecting_server, monkeypatch, caplog, capsys):
    monkeypatch.setenv("NSPARSE_OPENSEARCH_URL", rejecting_server)
    monkeypatch.setenv("NSPARSE_OPENSEARCH_USER", "analyst")
    monkeypatch.setenv("NSPARSE_OPENSEARCH_PASSWORD", PASSWORD)
    caplog.set_level(logging.DEBUG)
    settings = ClusterSettings.from_env()

    with pytest.raises(AuthenticationFailed) as raised:
        connect(settings, timeout_s=5)

    expected_header = "Basic " + base64.b64encode(f"analyst:{PASSWORD}".encode()).decode()
    assert _RejectingHandler.received_authorization[-1] == expected_header
    assert "analyst" in str(raised.value) and "401" in str(raised.value)
    captured = capsys.readouterr()
    for shown in (str(raised.value), repr(settings), caplog.text, captured.out, captured.err):
        assert PASSWORD not in shown


def test_credentials_in_the_url_are_not_displayed():
    settings = ClusterSettings(url=f"https://analyst:{PASSWORD}@search.example.org:9200")
    assert settings.display_url == "https://search.example.org:9200"


def test_certificate_verification_is_on_unless_turned_off(monkeypatch):
    monkeypatch.setenv("NSPARSE_OPENSEARCH_URL", "https://search.example.org:9200")
    monkeypatch.setenv("NSPARSE_OPENSEARCH_CA_CERTS", "/etc/ssl/certs/ca.pem")
    assert ClusterSettings.from_env().verify_certs is True
    assert ClusterSettings.from_env().ca_certs == "/etc/ssl/certs/ca.pem"
    monkeypatch.setenv("NSPARSE_OPENSEARCH_VERIFY_CERTS", "false")
    assert ClusterSettings.from_env().verify_certs is False
    monkeypatch.setenv("NSPARSE_OPENSEARCH_VERIFY_CERTS", "maybe")
    with pytest.raises(ValueError, match="NSPARSE_OPENSEARCH_VERIFY_CERTS"):
        ClusterSettings.from_env()


@pytest.mark.opensearch
def test_local_node_has_the_plugins_nsparse_needs(opensearch):
    installed = {row["component"] for row in opensearch.cat.plugins(format="json")}
    assert {"opensearch-ml", "opensearch-neural-search", "opensearch-knn", "analysis-nori"} <= installed
