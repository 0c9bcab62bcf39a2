"""Synthesis end to end: offline methods, an LLM behind a real HTTP server (with cache resume), the stage."""

from __future__ import annotations

import json

from helpers import PARAMS, SYNTH_CORPUS, llm_params, run_synthesize_stage, synthesize_params
from llm_fixtures import running_chat_server, server_log
from nsparse.data import read_pairs
from nsparse.io import write_jsonl
from nsparse.llm import make_generator
from nsparse.pipeline.synthesize import sample_documents, synthesize

BM25 = PARAMS.bm25


def documents() -> dict[str, str]:
    return sample_documents({"demo": SYNTH_CORPUS}, per_corpus=10, seed=0)


def test_document_sampling_is_reproducible_and_skips_texts_shared_between_corpora():
    twin = {"t1": SYNTH_CORPUS["d1"], "t2": {"title": "", "text": "다른 문서이다."}}
    sampled = sample_documents({"demo": SYNTH_CORPUS, "twin": twin}, per_corpus=10, seed=0)
    assert sampled == sample_documents({"demo": SYNTH_CORPUS, "twin": twin}, per_corpus=10, seed=0)
    assert sorted(sampled) == ["demo/d1", "demo/d2", "demo/d3", "demo/d4", "twin/t2"]
    corpus = {f"d{index}": {"title": "", "text": f"문서 {index}"} for index in range(8)}
    twins = {
        "t1": corpus["d0"],
        "t2": corpus["d1"],
        "t3": {"title": "", "text": "t3"},
        "t4": {"title": "", "text": "t4"},
    }
    topped = sample_documents({"a": corpus, "b": twins}, per_corpus=3, seed=1)
    assert len(topped) == 6 and len(set(topped.values())) == 6  # a twin of an `a` document is made up from `b`
    assert len(sample_documents({"demo": SYNTH_CORPUS}, per_corpus=2, seed=0)) == 2


def test_offline_synthesis_labels_methods_and_accounts_for_every_candidate(tmp_path):
    pairs, report = synthesize(documents(), synthesize_params(), BM25, None, seed=0, cache_dir=tmp_path)
    assert report["provenance"] == {"backend": "offline", "model": None, "method": "ict+keywords"}
    assert set(report["methods"]) == {"ict", "keywords"}
    assert report["kept"] == len(pairs) > 0
    assert report["candidates"] == report["kept"] + sum(report["rejected"].values())
    assert {pair["source"] for pair in pairs} <= {"synthetic:ict", "synthetic:keywords"}
    kept = {pair["query"] for pair in pairs}
    assert report["examples"]["kept"] and set(report["examples"]["kept"]) <= kept
    for outcome, queries in report["examples"].items():  # rejected examples are queries no pair holds
        assert 0 < len(queries) <= 8 and (outcome == "kept" or not set(queries) & kept)
    write_jsonl(tmp_path / "pairs.jsonl", pairs)
    assert read_pairs(tmp_path / "pairs.jsonl") == pairs


def test_llm_synthesis_over_http_filters_parses_and_resumes_from_cache(tmp_path):
    reply = json.dumps(
        {"queries": ["대한민국 도시 관광 명소", "이 지역의 유명한 장소"], "paraphrases": ["가볼 만한 곳 추천"]},
        ensure_ascii=False,
    )
    with running_chat_server(tmp_path, default_reply=reply) as base_url:
        generator = make_generator(llm_params(backend="openai", model="m", base_url=base_url, max_retries=0), seed=None)
        pairs, report = synthesize(
            documents(), synthesize_params(), BM25, generator, seed=0, cache_dir=tmp_path / "cache"
        )
        requests = len(server_log(base_url))
        assert requests == 2 * len(SYNTH_CORPUS)  # one query and one paraphrase request per document
        assert report["cache"]["generated"] == len(SYNTH_CORPUS) and report["malformed"] == {
            "queries": 0,
            "paraphrases": 0,
        }
        assert report["methods"]["llm"]["candidates"] == 2 * len(SYNTH_CORPUS)
        assert report["methods"]["llm"]["rejected"]["duplicate"] >= len(SYNTH_CORPUS)  # same queries for every document
        assert report["provenance"]["prompts"][0]["sha256"] and report["provenance"]["model"] == "m"
        assert {pair["source"] for pair in pairs} <= {"synthetic:llm", "synthetic:paraphrase"}

        again, resumed = synthesize(
            documents(), synthesize_params(), BM25, generator, seed=0, cache_dir=tmp_path / "cache"
        )
        assert len(server_log(base_url)) == requests, "a cached document was generated again"
        assert resumed["cache"] == {**report["cache"], "hits": len(SYNTH_CORPUS), "generated": 0} and again == pairs

        edited = {**documents(), "demo/d1": "서울은 조선의 수도였다. 한양이라고 불렸다."}
        _, refreshed = synthesize(edited, synthesize_params(), BM25, generator, seed=0, cache_dir=tmp_path / "cache")
        assert refreshed["cache"]["generated"] == 1 and len(server_log(base_url)) == requests + 2

    refusing = tmp_path / "refusing"
    refusing.mkdir()
    with running_chat_server(refusing, default_reply="죄송합니다, 답할 수 없습니다.") as base_url:
        generator = make_generator(llm_params(backend="openai", model="m", base_url=base_url, max_retries=0), seed=None)
        pairs, report = synthesize(
            documents(), synthesize_params(), BM25, generator, seed=0, cache_dir=refusing / "cache"
        )
    assert pairs == [] and report["malformed"]["queries"] == len(SYNTH_CORPUS)


def test_synthesize_stage_runs_with_the_tiny_transformers_model(tmp_path, tiny_qwen3):
    report = run_synthesize_stage(tmp_path, dict(backend="transformers", model=str(tiny_qwen3), max_new_tokens=24))
    assert report["provenance"]["backend"] == "transformers" and report["provenance"]["generated_tokens"] > 0
    assert report["malformed"]["queries"] == len(SYNTH_CORPUS)  # a random model writes no JSON: every document counted
    assert (tmp_path / "data/synth/pairs.jsonl").read_text(encoding="utf-8") == ""  # nothing passed the filters
    assert len(list((tmp_path / "data/synth/cache").rglob("*.json"))) == len(SYNTH_CORPUS)
