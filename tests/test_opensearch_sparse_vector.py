"""SEISMIC on a live 3.x node: a `sparse_vector` index ranks like exact `rank_features`; the scale benchmark runs."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from nsparse.io import read_json, write_jsonl
from nsparse.opensearch import index, search
from nsparse.opensearch.client import OpenSearchError
from nsparse.opensearch.index import SeismicMethod
from nsparse.opensearch.search import SeismicQuery
from nsparse.tools.scale.measure import recall_at_k
from nsparse.tools.scale.run import run_scale
from nsparse.tools.scale.settings import SYSTEMS, ScaleParams
from tests.helpers import TEXTS, tiny_encoder

pytestmark = pytest.mark.opensearch

SEISMIC_INDEX = "nsparse-test-seismic"
EXACT_INDEX = "nsparse-test-seismic-exact"
DOCUMENTS = 400
VOCABULARY = 300


@pytest.fixture
def sparse_vector_node(opensearch):
    version = index.node_version(opensearch)
    if version[:2] < index.SPARSE_VECTOR_MIN_VERSION:
        pytest.skip(
            f"the node runs OpenSearch {'.'.join(map(str, version))}; sparse_vector (SEISMIC) needs >= 3.3 "
            "(run the tests against e.g. NSPARSE_OPENSEARCH_VERSION=3.6.0 NSPARSE_OPENSEARCH_PORT=9250)"
        )
    return opensearch


def _vectors(count: int, seed: int, lengths: tuple[int, int]) -> list[dict[str, float]]:
    """Random vectors keyed by vocabulary id, term ids skewed like a real vocabulary's (Zipf-like)."""
    rng = np.random.default_rng(seed)
    share = 1 / np.arange(1, VOCABULARY + 1)
    share /= share.sum()
    vectors = []
    for _ in range(count):
        terms = rng.choice(VOCABULARY, size=int(rng.integers(*lengths)), replace=False, p=share)
        vectors.append({str(term): float(rng.uniform(0.05, 1.0)) for term in terms})
    return vectors


def test_seismic_top10_matches_exact_rank_features(sparse_vector_node):
    client = sparse_vector_node
    # 400 documents clustered as one segment (approximate_threshold below it): SEISMIC really runs,
    # and on so few documents it should find nearly all of the exact top 10.
    method = SeismicMethod(approximate_threshold=100, quantization_ceiling_ingest=1.0, quantization_ceiling_search=4.0)
    index.create_index(client, SEISMIC_INDEX, index.sparse_vector_index_body(method))
    index.create_index(client, EXACT_INDEX, index.sparse_index_body())
    docs = _vectors(DOCUMENTS, seed=1, lengths=(5, 40))
    for name in (SEISMIC_INDEX, EXACT_INDEX):
        rows = ({"_id": f"d{i}", "sparse": vector} for i, vector in enumerate(docs))
        assert index.bulk_index(client, name, rows, progress=False) == DOCUMENTS
        client.indices.forcemerge(index=name, max_num_segments=1)
        client.indices.refresh(index=name)

    mapping = client.indices.get_mapping(index=SEISMIC_INDEX)[SEISMIC_INDEX]["mappings"]["properties"]["sparse"]
    assert mapping["type"] == "sparse_vector" and mapping["method"]["name"] == "seismic"

    queries = _vectors(20, seed=2, lengths=(2, 8))
    approximate, exact = {}, {}
    for number, query in enumerate(queries):
        clause = search.neural_sparse_seismic_clause("sparse", query, SeismicQuery(k=10, top_n=len(query)))
        approximate[str(number)] = search.search(client, SEISMIC_INDEX, clause, k=10)
        exact[str(number)] = search.neural_sparse_tokens(client, EXACT_INDEX, "sparse", query, k=10)
    assert all(len(ranking) == 10 for ranking in exact.values())
    assert recall_at_k(approximate, exact, 10) >= 0.9


def test_sparse_vector_refuses_token_string_keys(sparse_vector_node):
    index.create_index(sparse_vector_node, SEISMIC_INDEX, index.sparse_vector_index_body())
    with pytest.raises(OpenSearchError, match=r"document 'word' refused.*valid integer"):
        index.bulk_index(sparse_vector_node, SEISMIC_INDEX, [{"_id": "word", "sparse": {"학교": 1.0}}], progress=False)


def test_scale_benchmark_builds_measures_and_removes_each_size(sparse_vector_node, tmp_path):
    """`run_scale` end to end on two tiny sizes (the second partly synthetic); a rerun of one size keeps the other."""
    rng = np.random.default_rng(0)
    for name in ("alpha", "beta"):
        docs = [
            {"_id": f"{name}{i}", "title": "", "text": " ".join(rng.choice(TEXTS, size=3).tolist())} for i in range(40)
        ]
        queries = [{"_id": f"q{i}", "text": text.split()[0]} for i, text in enumerate(TEXTS)]
        write_jsonl(tmp_path / name / "corpus.jsonl", docs)
        write_jsonl(tmp_path / name / "queries.jsonl", queries)
        qrels = "".join(f"q{i}\t{name}{i}\t1\n" for i in range(len(TEXTS)))
        (tmp_path / name / "qrels").mkdir()
        (tmp_path / name / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels, encoding="utf-8")
    params = ScaleParams(
        model="tiny",
        sizes=(60, 150),
        benchmarks_dir=str(tmp_path),
        corpora=("alpha", "beta"),
        queries=len(TEXTS),
        clients=2,
        index_prefix="nsparse-test-scale",
    )
    output, plot = tmp_path / "scale.json", tmp_path / "scale.png"
    report = run_scale(sparse_vector_node, params, output, plot, encoder=tiny_encoder())

    assert read_json(output) == json.loads(json.dumps(report)) and plot.stat().st_size > 0
    small, large = report["sizes"]["60"], report["sizes"]["150"]
    assert (small["synthetic_documents"], large["synthetic_documents"]) == (0, 70) and large["synthetic"]
    assert [small["seismic_approximate_threshold"], large["seismic_approximate_threshold"]] == [60, 150]
    for entry in (small, large):
        assert set(entry["systems"]) == set(SYSTEMS)
        for figures in entry["systems"].values():
            assert figures["documents"] == entry["documents"] and figures["segments"] == 1
            assert figures["index_size_bytes"] > 0 and 0 < figures["latency_p50_ms"] <= figures["latency_p99_ms"]
            assert figures["queries"] == len(TEXTS) and figures["throughput_qps"] > 0
        assert 0 <= entry["systems"]["v2_sparse_vector"]["recall@10_vs_rank_features"] <= 1
        assert entry["seismic_p50_over_bm25_p50"] > 0
    assert sparse_vector_node.indices.get(index="nsparse-test-scale-*") == {}

    rerun = run_scale(sparse_vector_node, replace(params, sizes=(150,)), output, plot, encoder=tiny_encoder())
    assert rerun["sizes"]["60"] == report["sizes"]["60"]  # kept from the first run: same settings, same node
    assert rerun["sizes"]["150"]["systems"]["bm25_nori"]["documents"] == 150
