"""The scale benchmark's parts that need no node: synthetic documents, SEISMIC bodies and clauses, recall."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from nsparse.cli import build_parser, main
from nsparse.opensearch import index, search
from nsparse.opensearch.index import SeismicMethod, SparseVectorUnsupported
from nsparse.opensearch.search import SeismicQuery
from nsparse.pipeline.fitting import encode_corpus
from nsparse.tools.scale.corpus import (
    SYNTHETIC_CHUNK,
    SYNTHETIC_PREFIX,
    EncodedCorpus,
    corpus_documents,
    recombined_texts,
    sentences,
    synthetic_corpus,
)
from nsparse.tools.scale.measure import measure_latency, recall_at_k
from nsparse.tools.scale.settings import ScaleParams, quantization_ceiling, seismic_for_size
from tests.helpers import TEXTS, tiny_encoder


def _real_texts(count: int = 40, seed: int = 3) -> list[str]:
    """Texts of numbered sentences, so each synthetic sentence can be traced to its real text and place."""
    rng = np.random.default_rng(seed)
    return [
        " ".join(f"d{doc} s{place} " + "w " * int(rng.integers(1, 12)) + "end." for place in range(rng.integers(1, 8)))
        for doc in range(count)
    ]


def test_sentences_are_cut_after_sentence_ends():
    assert sentences("첫 문장입니다. 두 번째인가요? 네! 끝") == ["첫 문장입니다.", "두 번째인가요?", "네!", "끝"]
    assert sentences("v1.2 is a version.") == ["v1.2 is a version."]
    assert sentences("   ") == ["   "]


def test_recombined_texts_join_runs_of_two_real_texts_as_long_as_real_ones():
    real = _real_texts()
    real_sentences = [sentences(text) for text in real]
    texts = recombined_texts(real, 2_000, np.random.default_rng(0))
    assert texts == recombined_texts(real, 2_000, np.random.default_rng(0))
    assert texts[:50] == recombined_texts(real, 50, np.random.default_rng(0))
    for text in texts:
        parts = sentences(text)
        sources = [int(part.split()[0][1:]) for part in parts]
        first, second = sources[0], sources[-1]
        assert first != second and sources == sorted(sources, key=lambda s: s != first)  # one run, then the other
        for source in (first, second):
            run = [part for part, s in zip(parts, sources) if s == source]
            start = real_sentences[source].index(run[0])
            assert real_sentences[source][start : start + len(run)] == run  # consecutive, in the real order
    real_words = np.mean([len(text.split()) for text in real])
    assert np.mean([len(text.split()) for text in texts]) == pytest.approx(real_words, rel=0.15)
    with pytest.raises(ValueError, match="at least two real texts"):
        recombined_texts(real[:1], 1, np.random.default_rng(0))


def test_synthetic_corpus_is_seeded_encoded_and_a_smaller_one_is_a_prefix():
    encoder = tiny_encoder()
    real = [f"{text} 한국어 문장입니다." for text in TEXTS]
    larger = synthetic_corpus(real, SYNTHETIC_CHUNK + 30, seed=5, encoder=encoder)
    smaller = synthetic_corpus(real, 30, seed=5, encoder=encoder)
    assert larger.synthetic and larger.titles == [""] * (SYNTHETIC_CHUNK + 30)
    assert larger.texts[:30] == smaller.texts and larger.doc_ids[:30] == smaller.doc_ids
    assert larger.doc_ids[-1] == f"{SYNTHETIC_PREFIX}{SYNTHETIC_CHUNK + 29:07d}"
    assert synthetic_corpus(real, 30, seed=6, encoder=encoder).texts != smaller.texts
    _, expected = encode_corpus(encoder, {"d": {"title": "", "text": smaller.texts[3]}}, progress=False)
    assert (smaller.vectors.getrow(3) != expected).nnz == 0  # each text encoded as any document is


def test_corpus_is_the_real_documents_then_synthetic_ones():
    rng = np.random.default_rng(0)
    vectors = sp.random(80, 50, density=0.2, format="csr", dtype=np.float32, random_state=rng)
    real = EncodedCorpus([f"r{i}" for i in range(50)], ["t"] * 50, ["x"] * 50, vectors[:50], synthetic=False)
    synthetic = EncodedCorpus([f"s{i}" for i in range(30)], [""] * 30, ["y"] * 30, vectors[50:], synthetic=True)
    documents = list(corpus_documents(real, synthetic, 80))
    assert [doc.synthetic for doc in documents] == [False] * 50 + [True] * 30
    assert documents[7].doc_id == "r7" and documents[7].weights.tolist() == vectors.getrow(7).data.tolist()
    assert documents[57].doc_id == "s7" and documents[57].term_ids.tolist() == vectors.getrow(57).indices.tolist()
    assert [doc.doc_id for doc in corpus_documents(real, synthetic, 20)] == [f"r{i}" for i in range(20)]


def test_quantization_ceiling_rounds_the_largest_weight_up():
    assert quantization_ceiling(np.asarray([0.1, 0.964])) == pytest.approx(0.97)
    assert quantization_ceiling(np.asarray([10.02])) == pytest.approx(11.0)
    assert quantization_ceiling(np.asarray([3.0])) == pytest.approx(3.0)


def test_recall_at_k_counts_the_exact_top_k_found():
    exact = {"q1": [("a", 3.0), ("b", 2.0)], "q2": [("c", 1.0), ("d", 0.5)], "empty": []}
    approximate = {"q1": [("b", 2.0), ("a", 3.0)], "q2": [("c", 1.0), ("x", 0.9)]}
    assert recall_at_k(approximate, exact, k=2) == pytest.approx(0.75)


def test_sparse_vector_body_keeps_the_sparse_index_layout():
    method = SeismicMethod(approximate_threshold=5000, quantization_ceiling_ingest=1.0)
    body = index.sparse_vector_index_body(method)
    assert body["settings"]["index"]["sparse"] is True
    parameters = {"approximate_threshold": 5000, "quantization_ceiling_ingest": 1.0}
    assert body["mappings"]["properties"]["sparse"] == {
        "type": "sparse_vector",
        "method": {"name": "seismic", "parameters": parameters},
    }
    rank_features = index.sparse_index_body()
    assert rank_features["mappings"]["properties"]["sparse"] == {"type": "rank_features"}
    assert "sparse" not in rank_features["settings"]["index"]
    # Everything but the vector field and the index.sparse setting is shared.
    del body["mappings"]["properties"]["sparse"], rank_features["mappings"]["properties"]["sparse"]
    del body["settings"]["index"]["sparse"]
    assert body == rank_features


def test_seismic_is_sized_to_the_corpus_unless_values_are_given():
    params = ScaleParams(model="models/v2")
    sized = [seismic_for_size(params, size) for size in (10_000, 100_000, 1_000_000)]
    assert [method.n_postings for method in sized] == [160, 200, 2000]
    assert [method.approximate_threshold for method in sized] == [10_000, 100_000, 1_000_000]
    assert seismic_for_size(params, 100).n_postings == 160  # the plugin's own minimum
    fixed = replace(params, seismic=replace(params.seismic, n_postings=300, approximate_threshold=5_000))
    assert seismic_for_size(fixed, 1_000_000) == fixed.seismic


def test_scale_cli_refuses_a_share_outside_zero_to_one(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "scale", "--n-postings-share", "2"])
    assert "--n-postings-share: must be a share in (0, 1], got 2.0" in capsys.readouterr().err


def test_scale_cli_indexes_models_v2_unless_given_a_model(monkeypatch, tmp_path):
    """The library names no model (`ScaleParams.model` has no default); `nsparse bench scale` defaults to models/v2."""
    import nsparse.opensearch.client
    import nsparse.tools.scale.run

    with pytest.raises(TypeError, match="model"):
        ScaleParams()
    ran: list[ScaleParams] = []

    def fake_run_scale(client, params, output, plot):
        ran.append(params)
        return {"sizes": {}}

    monkeypatch.setattr(nsparse.tools.scale.run, "run_scale", fake_run_scale)
    monkeypatch.setattr(nsparse.opensearch.client, "connect", lambda **options: None)
    output = ["--output", str(tmp_path / "scale.json"), "--plot", str(tmp_path / "scale.png")]
    assert main(["bench", "scale", *output]) == 0
    assert main(["bench", "scale", "--model", "models/v1", "--sizes", "100", *output]) == 0
    assert [(params.model, params.sizes) for params in ran] == [
        ("models/v2", ScaleParams(model="x").sizes),
        ("models/v1", (100,)),
    ]


def test_seismic_clause_carries_the_method_parameters():
    clause = search.neural_sparse_seismic_clause("sparse", {"17": 1.5}, SeismicQuery(top_n=20))
    assert clause == {
        "neural_sparse": {
            "sparse": {"query_tokens": {"17": 1.5}, "method_parameters": {"k": 10, "top_n": 20, "heap_factor": 1.0}}
        }
    }


class _Cluster:
    """Just enough of a client to answer `info()` with a version."""

    def __init__(self, version: str) -> None:
        self.version = version

    def info(self) -> dict:
        return {"version": {"number": self.version}}


def test_sparse_vector_needs_opensearch_3_3():
    with pytest.raises(SparseVectorUnsupported, match=r"needs OpenSearch >= 3.3, but the cluster runs 2.19.1"):
        index.require_sparse_vector(_Cluster("2.19.1"))
    with pytest.raises(SparseVectorUnsupported, match=r"runs 3.2.0"):
        index.require_sparse_vector(_Cluster("3.2.0"))
    index.require_sparse_vector(_Cluster("3.3.0"))
    index.require_sparse_vector(_Cluster("3.6.0-SNAPSHOT"))


def test_latency_is_measured_with_the_systems_taking_turns_query_by_query():
    calls: list[tuple[str, str]] = []

    def searcher(name: str, pause_s: float):
        def search_once(qid: str) -> list:
            calls.append((name, qid))
            time.sleep(pause_s)
            return []

        return search_once

    searchers = {"slow": searcher("slow", 0.004), "fast": searcher("fast", 0.0), "mid": searcher("mid", 0.001)}
    figures = measure_latency(searchers, ["q0", "q1", "q2", "q3"], clients=1)
    assert calls[:6] == [("slow", "q0"), ("fast", "q0"), ("mid", "q0"), ("fast", "q1"), ("mid", "q1"), ("slow", "q1")]
    assert calls[6:9] == [("mid", "q2"), ("slow", "q2"), ("fast", "q2")]
    assert {name: entry["queries"] for name, entry in figures.items()} == {"slow": 4, "fast": 4, "mid": 4}
    # each system keeps its own latencies (a busy machine only adds time: no upper bound on the fast one)
    assert (
        figures["slow"]["latency_p50_ms"] >= 4 and figures["slow"]["latency_p50_ms"] > figures["fast"]["latency_p50_ms"]
    )
    assert figures["fast"]["clients"] == 1
