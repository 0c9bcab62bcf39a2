"""The pipeline layer against the live OpenSearch node: BM25 (nori) baseline, deploy idempotency, benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from helpers import DEPLOY_TEST_PARAMS, PARAMS, TEXTS
from nsparse.data import Benchmark, write_benchmark
from nsparse.eval import evaluate
from nsparse.eval.bm25 import document_text
from nsparse.model.encoder import SILENT_QUERY_WEIGHT, SparseEncoder
from nsparse.opensearch import ml, search
from nsparse.opensearch.index import BM25Similarity
from nsparse.pipeline.baselines import bm25_nori_system, choose_nori_similarity, ensure_bm25_index
from nsparse.pipeline.deploy import AS_SHIPPED, DOC_MODEL, cleanup, deploy_variant, model_name
from nsparse.pipeline.fitting import fit_to_corpus

CORPUS = {
    "d1": {"title": "", "text": "학교가 끝나면 학생들은 도서관으로 간다"},
    "d2": {"title": "", "text": "병원에서 일하는 의사는 바쁘다"},
    "d3": {"title": "", "text": "공원에서 산책하는 사람들이 많다"},
}
BENCHMARK = Benchmark(
    corpus=CORPUS, queries={"q1": "학교에서", "q2": "의사들"}, qrels={"q1": {"d1": 1}, "q2": {"d2": 1}}
)


def test_bm25_nori_finds_inflected_forms_and_reuses_an_identical_index(opensearch: OpenSearch) -> None:
    run = bm25_nori_system(opensearch, "nsparse-test")("toy", BENCHMARK, 10)
    assert max(run["q1"], key=run["q1"].get) == "d1"
    assert evaluate(BENCHMARK.qrels, run).summary["ndcg@10"] == 1.0

    def uuid(index: str) -> str:
        return opensearch.indices.get(index=index)[index]["settings"]["index"]["uuid"]

    index = ensure_bm25_index(opensearch, "nsparse-test", CORPUS)
    created = uuid(index)
    assert ensure_bm25_index(opensearch, "nsparse-test", dict(CORPUS)) == index and uuid(index) == created
    grown = ensure_bm25_index(opensearch, "nsparse-test", {**CORPUS, "d4": {"title": "", "text": "새 문서"}})
    assert grown != index and opensearch.count(index=grown)["count"] == 4


def test_bm25_nori_finds_a_document_whose_answer_is_only_in_its_title(opensearch: OpenSearch) -> None:
    corpus = {**CORPUS, "d4": {"title": "대한민국의 수도", "text": "서울은 한강을 끼고 있는 도시다"}}
    queries = {"q3": "수도"}  # only in d4's title
    titled = Benchmark(corpus=corpus, queries=queries, qrels={"q3": {"d4": 1}})
    for similarity in (None, BM25Similarity(k1=0.9, b=0.4)):
        run = bm25_nori_system(opensearch, "nsparse-test", similarity)("titled", titled, 10)
        assert list(run["q3"]) == ["d4"]


def test_nori_k1_b_are_chosen_on_dev_and_the_tuned_index_is_reparameterised_in_place(opensearch: OpenSearch) -> None:
    def built(index: str) -> tuple[str, dict]:
        mappings = opensearch.indices.get(index=index)[index]
        return mappings["settings"]["index"]["uuid"], mappings["mappings"]["_meta"]["nsparse"]

    choice = choose_nori_similarity(opensearch, "nsparse-test", {"toy": BENCHMARK}, [0.6, 1.2], [0.3, 0.9], 10)
    assert choice["dev_benchmarks"] == ["toy"] and choice["dev_queries"] == 2
    assert set(choice["dev_ndcg@10"]) == {"0.6", "1.2"} and set(choice["dev_ndcg@10"]["0.6"]) == {"0.3", "0.9"}
    assert (choice["k1"], choice["b"]) == (0.6, 0.3)  # every candidate finds both answers: ties go to the first
    grid_index = ensure_bm25_index(opensearch, "nsparse-test", CORPUS, BM25Similarity(k1=1.2, b=0.9))  # as left
    uuid, record = built(grid_index)
    assert "bm25tuned" in grid_index and grid_index != ensure_bm25_index(opensearch, "nsparse-test", CORPUS)
    assert record["similarity"] == {"k1": 1.2, "b": 0.9}  # the grid's last candidate, in the build record
    tuned = ensure_bm25_index(opensearch, "nsparse-test", CORPUS, BM25Similarity(k1=2.0, b=0.75))
    assert tuned == grid_index and built(tuned) == (uuid, {**record, "similarity": {"k1": 2.0, "b": 0.75}})  # in place
    similarity = opensearch.indices.get_settings(index=tuned)[tuned]["settings"]["index"]["similarity"]["default"]
    assert (similarity["k1"], similarity["b"]) == ("2.0", "0.75")


def test_deploy_fits_each_corpus_indexes_whole_documents_and_redeploy_reuses_models(
    opensearch: OpenSearch, exported_variant: tuple[Path, Path], tmp_path: Path
) -> None:
    model_dir, export_dir = exported_variant
    corpus = {f"d{i}": {"title": "", "text": text} for i, text in enumerate(TEXTS)}
    # Titled and longer than ML Commons' 512-token default and the transformer's window: read whole all the same.
    corpus["long"] = {"title": "부산", "text": " ".join(TEXTS[:3] * 40) + " 김치"}  # 김치 only at its end
    other = {f"o{i}": {"title": "", "text": text} for i, text in enumerate(TEXTS[:3])}
    for name, docs in (("ko", corpus), ("en2ko", corpus), ("other", other)):  # two benchmarks over one corpus
        write_benchmark(tmp_path / name, docs, {"q0": "대한민국의 수도"}, {"test": {"q0": {next(iter(docs)): 1}}})
    benchmarks = {name: tmp_path / name for name in ("ko", "en2ko", "other")}
    params = PARAMS.deploy.merged({"model_group": "nsparse-test-group", "index_prefix": "nsparse-test"})

    first = deploy_variant(opensearch, "tiny", model_dir, export_dir, benchmarks, params, PARAMS.export)
    assert first.ingest == "pipeline" and first.statistics == "fitted"
    assert first.indices["ko"] == first.indices["en2ko"]  # one index per distinct corpus ...
    assert first.models("ko") == first.models("en2ko") != first.models("other")  # ... and its own fitted models
    index = first.indices["ko"]
    assert opensearch.count(index=index)["count"] == len(corpus)
    # ML Commons stored what the encoder, fitted to this corpus, computes in process from title and whole text
    encoder = SparseEncoder.load(model_dir).eval()
    assert len(encoder.tokenizer(document_text(corpus["long"]))["input_ids"]) > 512
    fitted = fit_to_corpus(encoder, corpus)
    assert first.models("ko").fitted_to == fitted and fitted["documents"] == len(corpus)
    expected = {
        doc_id: encoder.to_token_weights(encoder.encode_documents([document_text(document)])[0])
        for doc_id, document in corpus.items()
    }
    tokens = sorted({token for weights in expected.values() for token in weights} | {"never-a-token"})
    stored = search.stored_token_weights(opensearch, index, "sparse", list(corpus), tokens)
    for doc_id in corpus:
        source = opensearch.get(index=index, id=doc_id)["_source"]
        assert "passage" not in source and "sparse" not in source  # neither input nor vectors kept in _source
        assert stored[doc_id].keys() == expected[doc_id].keys()
        assert stored[doc_id] == pytest.approx(expected[doc_id], rel=1e-2)
    assert "김치" in stored["long"]  # its one occurrence is past ML Commons' 512 tokens: deploy encoded it whole
    # the query model carries this corpus's IDF
    (live_query,) = ml.predict_sparse(opensearch, first.query_model_id("ko"), ["대한민국의 수도"])
    live_query = {token: weight for token, weight in live_query.items() if weight > SILENT_QUERY_WEIGHT}
    assert live_query == pytest.approx(encoder.query_token_weights("대한민국의 수도"), rel=1e-5)
    hits = search.neural_sparse_model(opensearch, index, "sparse", "대한민국의 수도", first.query_model_id("ko"), 3)
    assert hits and hits[0][1] > 0
    # an English query finds the Korean documents through the translated terms ML Commons stored
    english = search.neural_sparse_model(opensearch, index, "sparse", "busan city", first.query_model_id("ko"), 5)
    assert {"d1", "d4"} <= set(dict(english))

    opensearch.indices.delete(index=index)
    second = deploy_variant(opensearch, "tiny", model_dir, export_dir, benchmarks, params, PARAMS.export)
    assert second.corpora == first.corpora
    assert opensearch.count(index=index)["count"] == len(corpus)
    doc_model = model_name(params.index_prefix, "tiny", DOC_MODEL, first.corpus_of["ko"])
    assert len(ml.find_models(opensearch, doc_model)) == 1

    cleanup(opensearch, second)
    assert not opensearch.indices.exists(index=index)
    assert ml.find_models(opensearch, doc_model) == []


def test_deploy_as_shipped_serves_every_corpus_with_the_exported_models(
    opensearch: OpenSearch, exported_variant: tuple[Path, Path], tmp_path: Path
) -> None:
    model_dir, export_dir = exported_variant
    for name, texts in (("a", TEXTS[:3]), ("b", TEXTS[2:])):
        docs = {f"{name}{i}": {"title": "", "text": text} for i, text in enumerate(texts)}
        write_benchmark(tmp_path / name, docs, {"q0": "서울"}, {"test": {"q0": {f"{name}0": 1}}})
    params = DEPLOY_TEST_PARAMS.merged({"fit_statistics": False})
    benchmarks = {n: tmp_path / n for n in "ab"}
    done = deploy_variant(opensearch, "tiny", model_dir, export_dir, benchmarks, params, PARAMS.export)
    try:
        assert done.statistics == "as-shipped" and list(done.corpora) == [AS_SHIPPED]
        assert done.query_model_id("a") == done.query_model_id("b") and done.indices["a"] != done.indices["b"]
        (live_query,) = ml.predict_sparse(opensearch, done.query_model_id("a"), ["서울"])
        shipped = SparseEncoder.load(model_dir).eval().query_token_weights("서울")
        live_query = {token: weight for token, weight in live_query.items() if weight > SILENT_QUERY_WEIGHT}
        assert live_query == pytest.approx(shipped, rel=1e-5)
    finally:
        cleanup(opensearch, done)
