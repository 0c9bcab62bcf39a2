"""Pure functions of the pipeline layer: report rendering, parity and rank_features rounding, v2 mixture."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from nsparse.config import load_params
from nsparse.io import DataFormatError
from nsparse.opensearch import search
from nsparse.opensearch.index import BM25Similarity, rank_features_precision
from nsparse.pipeline.baselines import chosen_nori_similarity
from nsparse.pipeline.baselines_report import NORI_TUNING
from nsparse.pipeline.benchmark import hybrid_clauses, one_torch_thread, parity
from nsparse.pipeline.mix import build_mixture
from nsparse.pipeline.report import markdown_table, read_training_curves, write_report

MIX = load_params(Path(__file__).resolve().parents[1] / "params.yaml").mix


def test_rank_features_precision_keeps_nine_significant_bits() -> None:
    # Lucene's FeatureField stores Float.floatToIntBits(v) >>> 15: 1 + 1/256 survives, 1 + 1/512 does not.
    values = np.array([1.0 + 2**-8, 1.0 + 2**-9, 3.14159], dtype=np.float32)
    rounded = rank_features_precision(values)
    assert rounded[0] == np.float32(1.0 + 2**-8)
    assert rounded[1] == np.float32(1.0)
    (bits,) = struct.unpack(">I", struct.pack(">f", 3.14159))
    (expected,) = struct.unpack(">f", struct.pack(">I", bits >> 15 << 15))
    assert rounded[2] == np.float32(expected)


def test_queries_are_timed_with_torch_in_one_thread_and_its_threads_come_back_after() -> None:
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), one_torch_thread():
        assert torch.get_num_threads() == 1
        raise RuntimeError("a failing query")
    assert torch.get_num_threads() == before


def test_parity_ignores_order_within_ties_but_not_across_scores() -> None:
    exact = {"q": {"d1": 3.0, "d2": 2.0, "d3": 2.0, "d4": 1.0}}
    assert parity({"q": {"d1": 3.0, "d3": 2.0, "d2": 2.0, "d4": 1.0}}, exact, k=4)["identical_topk_share"] == 1.0
    assert parity({"q": {"d2": 3.0, "d1": 2.0, "d3": 2.0, "d4": 1.0}}, exact, k=4)["identical_topk_share"] == 0.0


def test_markdown_table_formats_numbers() -> None:
    table = markdown_table(["system", "ndcg@10"], [["v1", 0.123456], ["bm25", None]])
    assert table.splitlines() == ["| system | ndcg@10 |", "|---|---|", "| v1 | 0.1235 |", "| bm25 | – |"]


def test_bm25_searches_title_and_text_as_one_field_in_the_baseline_and_the_hybrid() -> None:
    clause = {"multi_match": {"query": "학교 도서관", "type": "cross_fields", "fields": ["title", "text"]}}
    assert search.bm25_clause("학교 도서관") == clause
    assert hybrid_clauses("학교 도서관", "q")[0] == clause  # the hybrid's BM25 leg is the same query


def test_the_benchmark_reads_noris_k1_b_from_the_baselines_report_or_names_the_stage_to_rerun(tmp_path: Path) -> None:
    report = tmp_path / "baselines.json"
    report.write_text(json.dumps({"korquad": {}, NORI_TUNING: {"k1": 1.5, "b": 0.5, "dev_ndcg@10": {}}}))
    assert chosen_nori_similarity(report) == BM25Similarity(k1=1.5, b=0.5)
    report.write_text(json.dumps({"korquad": {}}))
    with pytest.raises(DataFormatError, match="no 'bm25_nori_tuning' .*rerun the baselines stage"):
        chosen_nori_similarity(report)


def test_report_renders_tables_plots_and_training_curves(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    benchmark = {
        "systems": {
            "korquad": {
                "bm25_nori": {"ndcg@10": 0.5, "mrr@10": 0.4, "recall@100": 0.9, "latency_p50_ms": 4.0},
                "v2": {"ndcg@10": 0.6, "mrr@10": 0.5, "recall@100": 0.95, "latency_p50_ms": 5.0, "flops": 1.5},
            }
        },
        "significance": {
            "korquad": {"v2_vs_bm25_nori": {"metric": "ndcg@10", "mean_difference": 0.1, "p_value": 0.01}}
        },
    }
    (reports / "benchmark.json").write_text(json.dumps(benchmark))
    (reports / "synthesis.json").write_text(json.dumps({"kept": 10, "rejected": {"length": 3}}))
    nori = {"ndcg@10": 0.8, "mrr@10": 0.7, "recall@100": 0.9}
    tuning = {
        "k1": 0.9,
        "b": 0.4,
        "dev_benchmarks": ["korquad"],
        "dev_queries": 5,
        "dev_ndcg@10": {"0.9": {"0.4": 0.7}},
    }
    baselines = {"korquad": {"bm25_nori": nori, "bm25_nori_tuned": nori}, NORI_TUNING: tuning}
    (reports / "baselines.json").write_text(json.dumps(baselines))
    curves = tmp_path / "dvclive" / "v1" / "plots" / "metrics" / "train"
    curves.mkdir(parents=True)
    (curves / "loss.tsv").write_text("timestamp\tstep\tloss\n0\t0\t2.0\n1\t10\t1.0\n")

    report = write_report(reports, tmp_path / "dvclive", ["v1", "v2"]).read_text()

    assert "| korquad | v2 | 0.6 | 0.5 | 0.95 |" in report
    assert "v2_vs_bm25_nori" in report
    assert "| korquad | bm25_nori_tuned | 0.8 | 0.7 | 0.9 |" in report and f"| {NORI_TUNING} |" not in report
    assert "`bm25_nori_tuned`: k1 0.9, b 0.4: the best mean nDCG@10 over the 5 dev queries of korquad" in report
    assert "| 0.9 | 0.7 |" in report  # the dev grid: k1 by b
    for png in ("quality_ndcg10.png", "latency_p50.png", "training_curves.png", "synthesis_counts.png"):
        assert (reports / "plots" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert read_training_curves(tmp_path / "dvclive" / "v1") == {"train/loss": [(0.0, 2.0), (10.0, 1.0)]}


def test_mixture_adds_code_switched_copies_of_korean_pairs_only() -> None:
    original = [
        {"query": "학교에서 공부하는 방법", "positive": "p", "negatives": [], "source": "msmarco-ko"},
        {"query": "how to study at school", "positive": "p", "negatives": [], "source": "msmarco-en"},
    ]
    synthetic = [{"query": "학교 급식", "positive": "p", "negatives": [], "source": "synthetic:ict"}]
    params = MIX.merged({"codeswitch_rate": 1.0, "codeswitch_share": 1.0, "max_synthetic": None})
    mixture, composition = build_mixture(original, synthetic, {"학교": ["school"]}, params, seed=1)
    assert composition == {
        "msmarco-ko": 1,
        "msmarco-en": 1,
        "synthetic:ict": 1,
        "msmarco-ko+codeswitch": 1,
        "synthetic:ict+codeswitch": 1,
    }
    switched = sorted(p["query"] for p in mixture if p["source"].endswith("+codeswitch"))
    assert switched == ["school 급식", "school에서 공부하는 방법"]
    again, _ = build_mixture(original, synthetic, {"학교": ["school"]}, params, seed=1)
    assert again == mixture


def test_mixture_without_code_switching_keeps_inputs() -> None:
    pairs = [{"query": "학교", "positive": "p", "negatives": [], "source": "msmarco-ko"}]
    params = MIX.merged({"codeswitch_rate": 1.0, "codeswitch_share": 0.0, "max_synthetic": 0})
    mixture, composition = build_mixture(pairs, pairs, {"학교": ["school"]}, params, seed=1)
    assert mixture == pairs and composition == {"msmarco-ko": 1}
