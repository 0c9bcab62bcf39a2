"""`nsparse search` against a tiny model deployed on the live node by the library itself."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from helpers import PARAMS, TEXTS, run_cli, tiny_encoder
from nsparse.data import Benchmark, write_benchmark
from nsparse.export.package import export_variant
from nsparse.opensearch import ml
from nsparse.opensearch.settings import node_settings, node_urls
from nsparse.pipeline.deploy import deploy_variant
from nsparse.train.validation import capped_validation_set

pytestmark = pytest.mark.opensearch

CORPUS = {f"d{i}": {"title": "", "text": text} for i, text in enumerate(TEXTS)}
QUERY = "대한민국의 수도"
VARIANT = "cli-search"  # its own model names: deploy undeploys other versions of a same-named model


@pytest.fixture
def deployed(opensearch: OpenSearch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny variant exported and deployed under the test prefix; returns the folder holding deploy/.

    The folder has no params.yaml, so the CLI finds the node as a user outside a project does: by
    NSPARSE_OPENSEARCH_URL.
    """
    url = os.environ.get("NSPARSE_OPENSEARCH_URL") or node_urls(node_settings())[0]
    monkeypatch.setenv("NSPARSE_OPENSEARCH_URL", url)
    tiny_encoder().save(tmp_path / "model")
    subset = capped_validation_set(Benchmark(CORPUS, {"q0": QUERY}, {"q0": {"d0": 1}}), 5, 1, seed=0)
    export_variant(tmp_path / "model", tmp_path / "export", TEXTS, subset, PARAMS.export.merged({"quantize": False}))
    write_benchmark(tmp_path / "docs", CORPUS, {"q0": QUERY}, {"test": {"q0": {"d0": 1}}})
    params = PARAMS.deploy.merged({"model_group": "nsparse-test-group", "index_prefix": "nsparse-test"})
    deployment = deploy_variant(
        opensearch, VARIANT, tmp_path / "model", tmp_path / "export", {"docs": tmp_path / "docs"}, params, PARAMS.export
    )
    deployment.save(tmp_path / "deploy" / VARIANT / "deployment.json")
    return tmp_path


def test_search_prints_hits_with_matched_terms(opensearch: OpenSearch, deployed: Path) -> None:
    result = run_cli("search", QUERY, "--variant", VARIANT, "--deploy-dir", "deploy", "-k", "3", "--json", cwd=deployed)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert 0 < len(hits) <= 3 and all(hit["doc_id"] in CORPUS for hit in hits)
    assert [hit["score"] for hit in hits] == sorted((hit["score"] for hit in hits), reverse=True)
    deployment = json.loads((deployed / "deploy" / VARIANT / "deployment.json").read_text())
    query_model_id = deployment["corpora"][deployment["corpus_of"]["docs"]]["query_model_id"]
    (query_weights,) = ml.predict_sparse(opensearch, query_model_id, [QUERY])
    for hit in hits:  # a neural_sparse score is the dot product of the matched terms (the index keeps 9 bits)
        assert hit["score"] == pytest.approx(sum(m["contribution"] for m in hit["matches"]), rel=4e-3)
        assert all(m["query_weight"] == pytest.approx(query_weights[m["token"]]) for m in hit["matches"])
        assert hit["text"] == CORPUS[hit["doc_id"]]["text"]

    index = deployment["indices"]["docs"]
    direct = run_cli("search", QUERY, "--index", index, "--model-id", query_model_id, "-k", "3", cwd=deployed)
    assert direct.returncode == 0, direct.stderr
    assert f"{index}: {len(hits)} hits" in direct.stdout and "matched:" in direct.stdout

    hybrid = run_cli(
        "search",
        QUERY,
        "--variant",
        VARIANT,
        "--hybrid",
        "--hybrid-pipeline",
        "nsparse-test-hybrid",
        "--json",
        cwd=deployed,
    )
    assert hybrid.returncode == 0, hybrid.stderr
    combined = json.loads(hybrid.stdout)
    assert combined and all(0 <= hit["score"] <= 1 for hit in combined)  # min-max normalised, then averaged


def test_search_without_a_deployment_fails_with_one_line(tmp_path: Path) -> None:
    for args, fault in (
        (["--variant", "v9"], "deploy/v9/deployment.json: not found"),
        (["--index", "some-index"], "--index and --model-id go together"),
    ):
        result = run_cli("search", QUERY, *args, cwd=tmp_path)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 1 and len(lines) == 1 and fault in lines[0], result.stderr
