"""reports/report.md from fixture metrics: tables instead of JSON dumps, plots linked only when written."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from nsparse.pipeline.report import write_report

BENCHMARK = {
    "systems": {
        "korquad": {"v2": {"ndcg@10": 0.6, "mrr@10": 0.5, "recall@100": 0.9, "latency_p50_ms": 5.0}},
        "own-synthetic": {"v2": {"ndcg@10": 0.7, "mrr@10": 0.6, "recall@100": 0.95, "latency_p50_ms": 4.0}},
    },
    "parity": {"korquad": {"v2": {"queries": 100, "identical_topk_share": 1.0, "mean_topk_overlap": 0.98}}},
    "queries": {"own-synthetic": "synthetic queries (held-out documents, never trained on), not judged by people"},
}
ENCODE_BENCH = {
    "documents": 300,
    "queries": 200,
    "threads": 2,
    "batch_size": 16,
    "backends": {
        "pytorch": {"docs_per_second": 43.5, "ndcg@10": 0.91},
        "onnx_int8": {"docs_per_second": 87.4, "ndcg@10": 0.9132, "top_k_mismatches": 125},
    },
    "parity": {"max_abs_diff": 1e-6, "top_k_mismatches": 0, "texts": 32},
}
SYNTHESIS = {
    "documents": 20,
    "provenance": {"backend": "offline", "model": None, "method": "ict+keywords"},
    "methods": {"ict": {"candidates": 30, "rejected": {"length": 2, "round_trip": 8}, "kept": 20}},
    "candidates": 30,
    "kept": 20,
    "rejected": {"length": 2, "round_trip": 8},
    "timings_s": {"generation": 1.5},
}
SYNONYMS = {
    "evaluation": {
        "heldout": {"offline": {"pairs": 10, "evaluated": 5, "correct": 4, "precision": 0.8, "recall": 0.1}}
    },
    "dictionary": {"entries": 12, "by_source": {"muse-seed": 10, "mined:offline": 2}},
}


def _write(reports: Path, name: str, data: dict) -> None:
    path = reports / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_json_sections_become_tables_and_only_written_plots_are_linked(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    for name, data in (
        ("benchmark.json", BENCHMARK),
        ("v2/encode_bench.json", ENCODE_BENCH),
        ("synthesis.json", SYNTHESIS),
        ("synonyms.json", SYNONYMS),
    ):
        _write(reports, name, data)
    (reports / "plots").mkdir()
    (reports / "plots" / "training_curves.png").write_bytes(b"stale, from an earlier run")

    report = write_report(reports, tmp_path / "dvclive", ["v1", "v2"]).read_text()

    assert "```" not in report and '"backends"' not in report
    assert "| korquad | v2 | 100 | 1 | 0.98 |" in report  # parity
    assert "| onnx_int8 | 87.4 | 0.9132 | 125 |" in report  # encoding back ends, missing cells as –
    assert "| pytorch | 43.5 | 0.91 | – |" in report
    assert "| ict | 30 | 2 | 8 | 20 |" in report and "| all | 30 | 2 | 8 | 20 |" in report  # synthesis filters
    assert "| heldout | offline | 10 | 5 | 4 | 0.8 | 0.1 | – |" in report  # synonym precision
    assert "| dictionary.by_source.muse-seed | 10 |" in report
    assert "Provenance: backend `offline`, method `ict+keywords`" in report
    assert "- `own-synthetic`: synthetic queries" in report  # a synthetic benchmark is labelled as such
    assert "training_curves.png" not in report  # no curves this run: the stale plot is not linked
    for linked in ("quality_ndcg10.png", "latency_p50.png", "synthesis_counts.png", "synonyms_counts.png"):
        assert f"(plots/{linked})" in report and (reports / "plots" / linked).read_bytes()[:4] == b"\x89PNG"


def test_sections_without_data_are_left_out(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    report = write_report(reports, tmp_path / "dvclive", ["v1"]).read_text()
    assert report.strip() == "# nsparse benchmark report"
    assert not any((reports / "plots").iterdir())


def test_costs_are_stated_as_multiples_of_bm25_on_the_same_benchmark() -> None:
    from nsparse.pipeline.report import bm25_ratio_table

    results = {
        "korquad": {
            "bm25_nori": {"latency_p50_ms": 4.0, "index_size_mb": 5.0},
            "v2": {"latency_p50_ms": 6.0, "index_size_mb": 10.0},
            "hybrid": {"latency_p50_ms": 8.0},
        }
    }
    table = bm25_ratio_table(results)
    assert "| korquad | v2 | 1.5 | 2 |" in table
    assert "| korquad | hybrid | 2 | – |" in table
    assert "bm25_nori |" not in table.split("\n", 2)[2]  # no row compares BM25 with itself


ROOT = Path(__file__).resolve().parents[1]


def test_the_headline_is_a_few_rounded_figures_per_benchmark() -> None:
    from nsparse.pipeline.benchmark_report import BenchmarkReport
    from nsparse.pipeline.report import headline

    systems = {
        "bm25_nori": {"ndcg@10": 0.9, "latency_p50_ms": 4.0, "index_size_mb": 5.0},
        "bm25_nori_tuned": {"ndcg@10": 0.95, "latency_p50_ms": 8.0, "index_size_mb": 5.0},
        "v1": {"ndcg@10": 0.93},
        "v2": {"ndcg@10": 0.9312345, "latency_p50_ms": 6.0, "index_size_mb": 10.0},
        "v2_two_phase": {"ndcg@10": 0.93},
    }
    report = BenchmarkReport(systems={"korquad": systems, "own": {"bm25_nori": {"ndcg@10": 0.5}, "v2": {}}})
    assert headline(report, ["v1", "v2"], "v2") == {
        # bm25: the tuned nori when the benchmark ran it; the cost ratios are against nori's defaults
        "korquad": {"bm25": 0.95, "v1": 0.93, "v2": 0.9312, "v2-v1": 0.0012, "p50_vs_nori": 1.5, "size_vs_nori": 2.0},
        "own": {"bm25": 0.5},  # what a benchmark lacks is left out
    }


def test_the_committed_headline_is_the_committed_benchmarks() -> None:
    from nsparse.pipeline.benchmark_report import BenchmarkReport
    from nsparse.pipeline.report import headline

    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    benchmark = BenchmarkReport.from_json(json.loads((ROOT / "reports" / "benchmark.json").read_text(encoding="utf-8")))
    committed = json.loads((ROOT / "reports" / "headline.json").read_text(encoding="utf-8"))
    assert committed == headline(benchmark, list(params["variants"]), params["benchmark"]["variant"])
    figures = [value for row in committed.values() for value in row.values()]
    assert 20 <= len(figures) <= 32 and all(value == round(value, 4) for value in figures)


def test_dvc_declares_one_metrics_file_the_headline() -> None:
    """`dvc exp show` gets a column per figure of every metrics file: only the headline is one."""
    dvc_yaml = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    declared = list(dvc_yaml.get("metrics", []))
    for stage in dvc_yaml["stages"].values():
        declared += [next(iter(m)) if isinstance(m, dict) else m for m in stage.get("do", stage).get("metrics", [])]
    assert declared == ["${paths.reports}/headline.json"]
