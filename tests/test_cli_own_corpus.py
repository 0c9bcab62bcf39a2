"""Your own documents, end to end at library level:
synthesize -> data/own -> evaluate / deploy + alias -> benchmark -> report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from opensearchpy import OpenSearch

from helpers import PARAMS, TINY, encoder_settings, synthesize_params
from nsparse.data import load_benchmark, write_benchmark
from nsparse.data.own import ABOUT, SPLIT
from nsparse.io import write_jsonl
from nsparse.model import base
from nsparse.model.encoder import SparseEncoder, compute_idf
from nsparse.opensearch import search
from nsparse.opensearch.index import BM25Similarity
from nsparse.params import Synthesize
from nsparse.pipeline.synthesize import (
    OwnCorpusError,
    read_own_corpus,
    sample_documents,
    synthesize,
    synthesize_corpora,
)

ROOT = Path(__file__).resolve().parents[1]
TOPICS = [
    ("서울", "서울은 대한민국의 수도이다. 한강이 도시를 가로지른다. 인구는 약 천만 명이다. 경복궁과 남산타워가 있다."),
    ("부산", "부산은 대한민국 제2의 도시이다. 해운대 해수욕장이 유명하다. 부산항은 큰 항구이다. 자갈치 시장이 있다."),
    ("제주", "제주도는 화산섬이다. 한라산이 섬 가운데에 있다. 귤이 특산물이다. 올레길을 걷는 관광객이 많다."),
    ("광주", "광주는 호남 지방의 중심 도시이다. 무등산이 도시 동쪽에 있다. 비엔날레 미술 전시가 열린다."),
    ("김치", "김치는 배추를 소금에 절여 만든다. 고춧가루와 마늘로 양념한다. 겨울에 김장을 한다. 발효 음식이다."),
    ("비빔밥", "비빔밥은 밥에 나물을 얹어 비빈다. 고추장을 넣는다. 전주 비빔밥이 유명하다. 달걀을 올리기도 한다."),
    ("축구", "축구는 공을 발로 차는 경기이다. 한 팀은 열한 명이다. 월드컵이 사 년마다 열린다. 골키퍼만 손을 쓴다."),
    ("야구", "야구는 투수가 공을 던진다. 타자는 방망이로 친다. 한국 프로야구는 인기가 많다. 홈런은 담장을 넘긴다."),
    ("반도체", "반도체는 전기가 통하는 정도가 중간이다. 메모리 칩을 만든다. 실리콘 웨이퍼를 가공한다. 수출 품목이다."),
    (
        "한글",
        "한글은 세종대왕이 만들었다. 훈민정음으로 반포되었다. 자음과 모음으로 이루어진다. 한글날은 시월 구일이다.",
    ),
    (
        "지하철",
        "지하철은 도시의 지하를 달린다. 서울 지하철은 노선이 많다. 교통카드로 요금을 낸다. 출퇴근 시간에 붐빈다.",
    ),
    (
        "태풍",
        "태풍은 열대 바다에서 생긴다. 강한 바람과 비를 몰고 온다. 여름과 가을에 찾아온다. 피해를 줄이려 대비한다.",
    ),
]
NORI_TUNED = BM25Similarity(k1=0.9, b=0.4)
BM25 = PARAMS.bm25
VARIANT = "cli-own"  # its own model names: deploy undeploys other versions of a same-named model
CORPUS = {f"doc{i}": {"title": title, "text": text} for i, (title, text) in enumerate(TOPICS)}


def settings() -> Synthesize:
    return synthesize_params(own_heldout_share=0.25)


def encoder_for(texts: list[str]) -> SparseEncoder:
    """`tiny_encoder`'s model with a tokenizer learnt on `texts`, so that their words are not [UNK]."""
    torch.manual_seed(0)
    tokenizer = base.train_tokenizer(texts * 3, vocab_size=1000, min_frequency=1)
    tokenizer = (
        tokenizer[0] if isinstance(tokenizer, tuple) else tokenizer
    )  # (tokenizer, stop pieces) in newer versions
    return SparseEncoder(
        base.new_masked_lm(tokenizer, TINY),
        tokenizer,
        encoder_settings(lexical_floor=False, prune_ratio=0.0, max_length=64, passage_overlap=None, window=None),
        compute_idf(tokenizer, texts, 64),
    )


@pytest.fixture
def own_jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "mydocs.jsonl"
    write_jsonl(path, ({"_id": doc_id, **doc} for doc_id, doc in CORPUS.items()))
    return path


def test_without_an_own_corpus_synthesis_is_unchanged(tmp_path: Path) -> None:
    corpora = {"demo": dict(list(CORPUS.items())[:4])}
    pairs, report = synthesize_corpora(corpora, None, settings(), BM25, None, 0, tmp_path / "cache", tmp_path / "own")
    expected_pairs, expected_report = synthesize(
        sample_documents(corpora, settings().documents_per_corpus, 0), settings(), BM25, None, 0, tmp_path
    )
    assert pairs == expected_pairs
    assert {**report, "timings_s": None} == {**expected_report, "timings_s": None}
    assert json.loads((tmp_path / "own" / ABOUT).read_text()) == {"name": None}
    assert sorted(p.name for p in (tmp_path / "own").iterdir()) == [ABOUT]


def test_own_corpus_without_judgments_trains_on_most_and_scores_held_out_synthetic_queries(
    own_jsonl: Path, tmp_path: Path
) -> None:
    own = read_own_corpus(own_jsonl, "test")
    pairs, report = synthesize_corpora({}, own, settings(), BM25, None, 0, tmp_path / "cache", tmp_path / "own")
    about = json.loads((tmp_path / "own" / ABOUT).read_text())
    assert about["name"] == "own-synthetic" and about["queries"] == "synthetic"
    assert "synthetic" in about["label"] and about["heldout_documents"] == 3  # 25% of 12
    assert about["methods"] == ["synthetic:keywords"]  # ICT sentences are still in the indexed documents
    bench = load_benchmark(tmp_path / "own", SPLIT)
    assert bench.corpus == CORPUS and len(bench.queries) == about["query_count"] > 0
    heldout_docs = {doc for judged in bench.qrels.values() for doc in judged}
    assert len(heldout_docs) <= 3
    heldout_texts = {CORPUS[doc]["text"] for doc in heldout_docs}
    assert pairs and not any(pair["positive"] in heldout_texts for pair in pairs)  # never trained on
    assert not set(bench.queries.values()) & {pair["query"] for pair in pairs}
    own_report = report["own_corpus"]
    assert own_report["training_pairs"] == len(pairs) and own_report["heldout_pairs"] >= len(bench.queries)


def test_own_beir_folder_with_judged_queries_becomes_the_benchmark(tmp_path: Path) -> None:
    queries = {"q1": "한국의 수도", "q2": "발효 음식 만드는 법"}
    write_benchmark(tmp_path / "mine", CORPUS, queries, {"dev": {"q1": {"doc0": 1}, "q2": {"doc4": 1}}})
    own = read_own_corpus(tmp_path / "mine", "dev")
    pairs, report = synthesize_corpora({}, own, settings(), BM25, None, 0, tmp_path / "cache", tmp_path / "own")
    assert report["own_corpus"]["name"] == "own" and report["own_corpus"]["queries"] == "judged"
    assert report["own_corpus"]["heldout_pairs"] == 0 and len(pairs) == report["own_corpus"]["training_pairs"] > 0
    bench = load_benchmark(tmp_path / "own", SPLIT)
    assert bench.queries == queries and bench.qrels == {"q1": {"doc0": 1}, "q2": {"doc4": 1}}


def test_a_missing_own_corpus_is_named(tmp_path: Path) -> None:
    with pytest.raises(OwnCorpusError, match="synthesize.own_corpus .*nope.jsonl: no such file"):
        read_own_corpus(tmp_path / "nope.jsonl", "test")


@pytest.mark.opensearch
def test_own_corpus_is_deployed_under_the_chosen_alias_benchmarked_and_labelled(
    opensearch: OpenSearch, own_jsonl: Path, tmp_path: Path
) -> None:
    from nsparse.export.package import export_variant
    from nsparse.pipeline.benchmark import VariantEncoders, run_all
    from nsparse.pipeline.deploy import deploy_variant
    from nsparse.pipeline.own import own_benchmark_folders, own_benchmarks, point_own_aliases
    from nsparse.pipeline.report import write_report
    from nsparse.tools.evaluate import evaluate_model
    from nsparse.tools.inspect import Target, search_index
    from nsparse.train.validation import capped_validation_set

    own_dir = tmp_path / "data" / "own"
    synthesize_corpora({}, read_own_corpus(own_jsonl, "test"), settings(), BM25, None, 0, tmp_path / "cache", own_dir)
    ((name, folder),) = own_benchmark_folders(own_dir).items()
    benchmarks, labels = own_benchmarks(own_dir)

    texts = [doc["text"] for doc in CORPUS.values()]
    encoder = encoder_for(texts)  # stands in for models/v2: its figures on the own benchmark, in process
    in_process = evaluate_model(
        encoder, benchmarks[name], model="tiny", benchmark_name=name, split=SPLIT, batch_size=32, progress=False
    )
    assert set(in_process.systems["tiny"]) >= {"ndcg@10", "doc_nnz"}

    encoder.save(tmp_path / "model")
    subset = capped_validation_set(benchmarks[name], 12, 2, seed=0)
    export_variant(tmp_path / "model", tmp_path / "export", texts, subset, PARAMS.export.merged({"quantize": False}))
    params = PARAMS.deploy.merged(
        {"model_group": "nsparse-test-group", "index_prefix": "nsparse-test", "own_index": "nsparse-test-mydocs"}
    )
    deployment = deploy_variant(
        opensearch, VARIANT, tmp_path / "model", tmp_path / "export", {name: folder}, params, PARAMS.export
    )
    record = tmp_path / "deploy" / VARIANT / "deployment.json"
    deployment.save(record)

    aliases = point_own_aliases(opensearch, record, own_dir, params, [VARIANT])
    assert aliases == [f"nsparse-test-mydocs-{VARIANT}", "nsparse-test-mydocs"]
    for alias in aliases:
        assert list(opensearch.indices.get_alias(name=alias)) == [deployment.indices[name]]
        assert opensearch.count(index=alias)["count"] == len(CORPUS)
    assert point_own_aliases(opensearch, record, own_dir, params, [VARIANT]) == aliases  # idempotent
    assert search_index(opensearch, Target("nsparse-test-mydocs", deployment.query_model_id(name)), "서울 수도", 3)

    bench_params = PARAMS.benchmark.merged(
        {
            "max_queries": 5,
            "throughput_queries": 5,
            "clients": 1,
            "two_phase": False,
            "hybrid_pipeline": "nsparse-test-hybrid",
            "variant": VARIANT,
            "hybrid_bm25_weights": [0.2, 0.5],
        }
    )
    # the held-out synthetic queries stand in for a dev split here: the weight is chosen on them, then reported
    encoders = {VARIANT: VariantEncoders(tmp_path / "model", deployment)}
    report = run_all(
        opensearch, benchmarks, benchmarks, {VARIANT: deployment}, encoders, bench_params, "nsparse-test", NORI_TUNED
    )
    assert {"bm25_nori", "bm25_nori_tuned"} <= report.systems[name].keys()
    assert {f"{VARIANT}_vs_bm25_nori", f"{VARIANT}_vs_bm25_nori_tuned"} <= report.significance[name].keys()
    assert report.parity[name][VARIANT]["identical_topk_share"] == 1.0  # the live index ranks as the model does
    assert report.systems[name][f"{VARIANT}_client_encoded"]["ndcg@10"] == report.systems[name][VARIANT]["ndcg@10"]
    # one weight per query group (with Hangul / without), each from the candidates and left in its own pipeline
    assert set(report.hybrid["bm25_weight"]) == set(search.HYBRID_QUERY_GROUPS)
    assert sum(report.hybrid["dev_queries"].values()) == sum(min(5, len(b.queries)) for b in benchmarks.values())
    for group, weight in report.hybrid["bm25_weight"].items():
        assert weight in (0.2, 0.5) and set(report.hybrid["dev_ndcg@10"][group]) == {"0.2", "0.5"}
        pipeline = search.hybrid_pipeline_name("nsparse-test-hybrid", group)
        stored = opensearch.transport.perform_request("GET", f"/_search/pipeline/{pipeline}")[pipeline]
        combination = stored["phase_results_processors"][0]["normalization-processor"]["combination"]
        assert combination["parameters"]["weights"][0] == weight
    report.queries = labels  # as stages/benchmark.py records it
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "benchmark.json").write_text(json.dumps(report.to_json()))
    markdown = write_report(reports, tmp_path / "dvclive", [VARIANT]).read_text()
    assert f"| {name} | {VARIANT} |" in markdown and f"- `{name}`: synthetic queries" in markdown
