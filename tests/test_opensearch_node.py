"""The launcher's pieces: settings, Maven coordinates and fetching, and the `nsparse node` command."""

from __future__ import annotations

import hashlib
import os
import socket

import pytest
import requests

from helpers import ROOT
from nsparse.cli import main
from nsparse.config import load_params
from nsparse.opensearch.artifacts import ArtifactFetcher, ArtifactNotFound, Coordinate
from nsparse.opensearch.settings import major_version, node_settings, node_urls

PARAMS = load_params(ROOT / "params.yaml")
MAVEN_CENTRAL = PARAMS.opensearch.maven_repository


def test_settings_come_from_params_and_the_environment_overrides_them(monkeypatch):
    for key in ("VERSION", "HEAP", "PORT"):
        monkeypatch.delenv(f"NSPARSE_OPENSEARCH_{key}", raising=False)
    section = PARAMS.opensearch.merged({"version": "2.19.6", "heap": "2g", "port": 9201})
    assert node_settings(section).version == "2.19.6"
    assert major_version(node_settings(section)) == 2
    monkeypatch.setenv("NSPARSE_OPENSEARCH_HEAP", "3g")
    monkeypatch.setenv("NSPARSE_OPENSEARCH_PORT", "9333")
    settings = node_settings(section)
    assert (settings.heap, settings.port, node_urls(settings)) == ("3g", 9333, ["http://127.0.0.1:9333"])
    monkeypatch.setenv("NSPARSE_OPENSEARCH_PORT", "ninety")
    with pytest.raises(ValueError, match="NSPARSE_OPENSEARCH_PORT='ninety': expected int"):
        node_settings(section)


def test_coordinates_map_to_repository_paths():
    coordinate = Coordinate.parse("ai.djl.pytorch:pytorch-native-cpu:2.5.1:jar:linux-x86_64")
    assert (
        coordinate.repository_path
        == "ai/djl/pytorch/pytorch-native-cpu/2.5.1/pytorch-native-cpu-2.5.1-linux-x86_64.jar"
    )
    with pytest.raises(ValueError, match="not a Maven coordinate"):
        Coordinate.parse("org.opensearch:opensearch")


needs_maven_central = pytest.mark.network  # runs with --live, and fails (not skips) when Maven Central is down


@needs_maven_central
def test_https_fetch_without_maven_checks_the_repository_sha1(tmp_path):
    fetcher = ArtifactFetcher(use_maven=False, repository_url=MAVEN_CENTRAL, download_dir=tmp_path)
    coordinate = Coordinate.parse("org.opensearch.plugin:mapper-extras-client:2.19.1")
    jar = fetcher.fetch(coordinate)
    published_sha1 = requests.get(f"{MAVEN_CENTRAL}/{coordinate.repository_path}.sha1", timeout=30).text.split()[0]
    assert jar == tmp_path / coordinate.repository_path
    assert hashlib.sha1(jar.read_bytes()).hexdigest() == published_sha1

    with pytest.raises(ArtifactNotFound, match="org.opensearch.plugin:analysis-nori:2.19.1:zip"):
        fetcher.fetch(Coordinate.parse("org.opensearch.plugin:analysis-nori:2.19.1:zip"))


@needs_maven_central
def test_module_jars_follow_opensearch_poms_and_skip_what_the_node_ships(tmp_path):
    fetcher = ArtifactFetcher(use_maven=False, repository_url=MAVEN_CENTRAL, download_dir=tmp_path)
    jars = {
        jar.file_name
        for jar in fetcher.runtime_jars(
            Coordinate.parse("org.opensearch.plugin:lang-painless:2.19.1"),
            provided={"opensearch-2.19.1.jar", "asm-9.7.jar"},
        )
    }
    assert {
        "lang-painless-2.19.1.jar",
        "opensearch-scripting-painless-spi-2.19.1.jar",
        "antlr4-runtime-4.13.1.jar",
    } <= jars
    # Provided jars are neither copied nor followed: nothing of the core's own dependencies comes along.
    assert not jars & {"asm-9.7.jar", "opensearch-2.19.1.jar", "opensearch-core-2.19.1.jar", "lucene-core-9.12.1.jar"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.opensearch
@pytest.mark.skipif(bool(os.environ.get("NSPARSE_OPENSEARCH_URL")), reason="an external cluster is configured")
def test_status_exits_zero_only_when_the_node_answers(opensearch, monkeypatch, capsys):
    assert main(["node", "status"]) == 0
    assert "up: http://127.0.0.1:" in capsys.readouterr().out
    monkeypatch.setenv("NSPARSE_OPENSEARCH_PORT", str(_free_port()))
    assert main(["node", "status"]) == 1
    assert "down: nothing answers" in capsys.readouterr().out
