"""The human-readable report: tables and PNG plots from the pipeline's metrics files.

Everything here reads JSON/TSV that earlier stages wrote; it computes nothing new, so a
report can always be regenerated from a finished run (or a `dvc exp` of one).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: the report is written by a DVC stage, never shown
import matplotlib.pyplot as plt

from nsparse.io import atomic_open, write_json, write_text
from nsparse.pipeline.baselines_report import NORI_TUNING, benchmark_tables
from nsparse.pipeline.benchmark_report import BenchmarkReport

QUALITY_METRICS = ("ndcg@10", "mrr@10", "recall@100")
COST_METRICS = ("latency_p50_ms", "latency_p99_ms", "throughput_qps", "index_size_mb", "doc_nnz", "query_nnz", "flops")


# The fair BM25 of the headline: nori with the k1/b chosen on the dev splits, else with Lucene's.
HEADLINE_BM25 = ("bm25_nori_tuned", "bm25_nori")


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return "–" if value is None else str(value)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def metric_table(results: dict[str, dict[str, dict[str, Any]]], metrics: Sequence[str]) -> str:
    """One row per benchmark × system, one column per metric."""
    rows = [
        [benchmark, system, *(scores.get(m) for m in metrics)]
        for benchmark, systems in results.items()
        for system, scores in systems.items()
    ]
    return markdown_table(["benchmark", "system", *metrics], rows)


def bm25_ratio_table(results: dict[str, dict[str, dict[str, Any]]], baseline: str = "bm25_nori") -> str:
    """Each system's p50 latency and index size as multiples of the BM25 baseline's on the same benchmark."""
    rows = []
    for benchmark, systems in results.items():
        reference = systems.get(baseline, {})
        for system, scores in systems.items():
            if system == baseline:
                continue
            ratios = [
                scores[m] / reference[m] if scores.get(m) is not None and reference.get(m) else None
                for m in ("latency_p50_ms", "index_size_mb")
            ]
            rows.append([benchmark, system, *ratios])
    return markdown_table(["benchmark", "system", f"p50 / {baseline}", f"index size / {baseline}"], rows)


def _save(fig: plt.Figure, path: Path) -> None:
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)


def plot_grouped_bars(results: dict[str, dict[str, dict[str, Any]]], metric: str, path: Path, title: str) -> None:
    """Bars of `metric`, grouped by benchmark, one colour per system."""
    benchmarks = list(results)
    systems = sorted({s for systems in results.values() for s in systems}, key=str)
    width = 0.8 / max(len(systems), 1)
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(benchmarks), 4))
    for i, system in enumerate(systems):
        values = [results[b].get(system, {}).get(metric) or 0.0 for b in benchmarks]
        ax.bar([x + i * width for x in range(len(benchmarks))], values, width, label=system)
    ax.set_xticks([x + width * (len(systems) - 1) / 2 for x in range(len(benchmarks))], benchmarks)
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.legend(fontsize="small", ncol=2)
    _save(fig, path)


def read_training_curves(dvclive_dir: Path) -> dict[str, list[tuple[float, float]]]:
    """dvclive's per-metric TSVs (`plots/metrics/**.tsv`, columns step, <name>) as (step, value) series."""
    curves: dict[str, list[tuple[float, float]]] = {}
    for tsv in sorted((dvclive_dir / "plots" / "metrics").rglob("*.tsv")):
        with tsv.open(encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            name = str(tsv.relative_to(dvclive_dir / "plots" / "metrics").with_suffix(""))
            value_column = [c for c in (reader.fieldnames or []) if c not in ("step", "timestamp")]
            if not value_column:
                continue
            curves[name] = [(float(row["step"]), float(row[value_column[-1]])) for row in reader]
    return curves


def plot_training_curves(curves_by_variant: dict[str, dict[str, list[tuple[float, float]]]], path: Path) -> bool:
    """One panel per curve name, one line per variant; False (nothing written) without curves."""
    names = sorted({name for curves in curves_by_variant.values() for name in curves})
    if not names:
        return False
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        for variant, curves in curves_by_variant.items():
            if name in curves:
                steps, values = zip(*curves[name])
                ax.plot(steps, values, label=variant)
        ax.set_title(name, fontsize="small")
        ax.set_xlabel("step")
        ax.legend(fontsize="small")
    _save(fig, path)
    return True


def plot_counts(counts: dict[str, float], path: Path, title: str) -> bool:
    """Horizontal bars of counts; False (nothing written) when there is nothing to count."""
    if not counts:
        return False
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(counts) + 1.2))
    ax.barh(list(counts), list(counts.values()))
    ax.invert_yaxis()
    ax.set_title(title)
    _save(fig, path)
    return True


def _numeric_leaves(obj: Any, prefix: str = "") -> dict[str, float]:
    """Flatten the numeric leaves of a JSON report (e.g. filter rejection counts) for a bar chart."""
    if isinstance(obj, bool):
        return {}
    if isinstance(obj, (int, float)):
        return {prefix: float(obj)}
    if isinstance(obj, dict):
        out: dict[str, float] = {}
        for key, value in obj.items():
            out.update(_numeric_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {}


def _image(path: Path, alt: str, written: bool) -> list[str]:
    """A Markdown image line (relative to the report) only for a plot this run wrote."""
    return [f"![{alt}](plots/{path.name})", ""] if written and path.exists() else []


def key_value_table(data: dict[str, Any], header: Sequence[str] = ("field", "value")) -> str:
    """Any remaining nested figures as `a.b.c | value` rows: a table, never a JSON dump."""
    rows = [[key, value] for key, value in _leaves(data).items()]
    return markdown_table(header, rows)


def _leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Every scalar leaf of nested dicts (lists joined), keyed by its dotted path."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            out.update(_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(obj, list):
        return {prefix: ", ".join(_fmt(item) for item in obj)}
    return {prefix: obj}


def parity_table(parity: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Live index vs in-process exact ranking, one row per benchmark and variant."""
    rows = [
        [bench, variant, f.get("queries"), f.get("identical_topk_share"), f.get("mean_topk_overlap")]
        for bench, variants in parity.items()
        for variant, f in variants.items()
    ]
    return markdown_table(
        ["benchmark", "variant", "queries", "identical top-10 (ties aside)", "mean top-10 overlap"], rows
    )


def rows_table(rows_by_name: dict[str, dict[str, Any]], first: str) -> str:
    """One row per name, one column per key any row has (in first-seen order); nested values flattened."""
    flat = {name: _leaves(values) for name, values in rows_by_name.items()}
    columns = list(dict.fromkeys(key for values in flat.values() for key in values))
    return markdown_table(
        [first, *columns], [[name, *(values.get(c) for c in columns)] for name, values in flat.items()]
    )


def nori_tuning_section(tuning: dict[str, Any]) -> list[str]:
    """The k1/b chosen for `bm25_nori_tuned` and the dev grid it was chosen from (mean nDCG@10, k1 by b)."""
    benchmarks = ", ".join(tuning["dev_benchmarks"])
    return [
        f"`bm25_nori_tuned`: k1 {tuning['k1']}, b {tuning['b']}: the best mean nDCG@10 over the "
        f"{tuning['dev_queries']} dev queries of {benchmarks} (`bm25_nori`: Lucene's k1 1.2, b 0.75):",
        "",
        rows_table(tuning["dev_ndcg@10"], "k1 \\ b"),
        "",
    ]


def encode_bench_section(variant: str, bench: dict[str, Any]) -> list[str]:
    """Encoding throughput and fidelity per back end, and the export's parity gate."""
    lines = [f"### Encoding benchmark, {variant}", ""]
    setup = {k: bench[k] for k in ("documents", "queries", "threads", "batch_size") if k in bench}
    if setup:
        lines += [", ".join(f"{k.replace('_', ' ')}: {_fmt(v)}" for k, v in setup.items()), ""]
    if isinstance(bench.get("backends"), dict):
        lines += [rows_table(bench["backends"], "backend"), ""]
    if isinstance(bench.get("parity"), dict):
        lines += ["Export parity gate (ONNX vs PyTorch):", "", key_value_table(bench["parity"]), ""]
    rest = {k: v for k, v in bench.items() if k not in (*setup, "backends", "parity")}
    if rest:
        lines += [key_value_table(rest), ""]
    return lines


def _provenance_line(data: dict[str, Any]) -> list[str]:
    provenance = data.get("provenance")
    if not isinstance(provenance, dict):
        return []
    shown = {k: v for k, v in provenance.items() if v is not None and not isinstance(v, (dict, list))}
    return ["Provenance: " + ", ".join(f"{k} `{v}`" for k, v in shown.items()), ""] if shown else []


def synthesis_section(data: dict[str, Any], plot: list[str]) -> list[str]:
    """Synthetic queries: what each filter rejected per method, what was kept, and examples of both."""
    lines = ["## Query synthesis", "", *_provenance_line(data)]
    methods = data.get("methods")
    if isinstance(methods, dict) and methods:
        rows = {
            method: {
                "candidates": c.get("candidates"),
                **{f"rejected: {k}": v for k, v in (c.get("rejected") or {}).items()},
                "kept": c.get("kept"),
            }
            for method, c in methods.items()
        }
        rows["all"] = {
            "candidates": data.get("candidates"),
            **{f"rejected: {k}": v for k, v in (data.get("rejected") or {}).items()},
            "kept": data.get("kept"),
        }
        lines += [rows_table(rows, "method"), ""]
    examples = data.get("examples") or {}
    for outcome, queries in examples.items():
        title = "kept" if outcome == "kept" else f"rejected ({outcome})"
        lines += [f"Queries {title}, the first {len(queries)}:", "", *(f"- {query}" for query in queries), ""]
    skipped = ("provenance", "methods", "candidates", "rejected", "kept", "examples")
    rest = {k: v for k, v in data.items() if k not in skipped}
    if rest:
        lines += [key_value_table(rest), ""]
    return lines + plot


def synonyms_section(data: dict[str, Any], plot: list[str]) -> list[str]:
    """Synonym mining and verification: precision/recall against each reference split, the dictionary."""
    lines = ["## Synonym verification", "", *_provenance_line(data)]
    evaluation = data.get("evaluation")
    if isinstance(evaluation, dict) and evaluation:
        rows = [
            [
                reference,
                system,
                *(f.get(m) for m in ("pairs", "evaluated", "correct", "precision", "recall", "reference_pairs")),
            ]
            for reference, systems in evaluation.items()
            for system, f in systems.items()
        ]
        lines += [
            markdown_table(
                ["reference", "pairs from", "pairs", "evaluated", "correct", "precision", "recall", "reference pairs"],
                rows,
            ),
            "",
        ]
    rest = {k: v for k, v in data.items() if k not in ("provenance", "evaluation")}
    if rest:
        lines += [key_value_table(rest), ""]
    return lines + plot


def headline(benchmark: BenchmarkReport, variants: Sequence[str], variant: str) -> dict[str, dict[str, float]]:
    """The few figures runs are compared by (`reports/headline.json`, DVC's only metrics file), per benchmark.

    `bm25`, each variant and `hybrid`: nDCG@10 on the live index (`bm25` is the first of
    `HEADLINE_BM25` the benchmark ran); `<variant>-<other>`: the difference of their nDCG@10;
    `p50_vs_nori`, `size_vs_nori`: `variant`'s p50 latency and index size as multiples of
    `bm25_nori`'s, as in the report's cost table. Rounded to 4 decimals; a figure the
    benchmark lacks is left out.
    """
    out: dict[str, dict[str, float]] = {}
    for name, systems in benchmark.systems.items():
        bm25 = next((systems[s] for s in HEADLINE_BM25 if s in systems), {})
        ndcg = {"bm25": bm25.get("ndcg@10")}
        ndcg |= {system: systems.get(system, {}).get("ndcg@10") for system in (*variants, "hybrid")}
        row: dict[str, float | None] = dict(ndcg)
        for other in variants:
            if other != variant and ndcg.get(variant) is not None and ndcg[other] is not None:
                row[f"{variant}-{other}"] = ndcg[variant] - ndcg[other]
        for key, metric in (("p50_vs_nori", "latency_p50_ms"), ("size_vs_nori", "index_size_mb")):
            value, reference = systems.get(variant, {}).get(metric), systems.get("bm25_nori", {}).get(metric)
            row[key] = value / reference if value is not None and reference else None
        # + 0.0: a difference that rounds to zero is written 0.0, not -0.0
        out[name] = {key: round(value, 4) + 0.0 for key, value in row.items() if value is not None}
    return {name: row for name, row in out.items() if row}


def write_headline(reports_dir: Path, variants: Sequence[str], variant: str) -> Path:
    """Write `reports/headline.json` from `reports/benchmark.json`; return its path."""
    path = reports_dir / "headline.json"
    write_json(
        path, headline(BenchmarkReport.from_json(_load(reports_dir / "benchmark.json") or {}), variants, variant)
    )
    return path


def write_report(reports_dir: Path, dvclive_root: Path, variants: Sequence[str]) -> Path:
    """Write `reports/report.md` and `reports/plots/*.png`; return the report's path."""
    plots = reports_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    benchmark = BenchmarkReport.from_json(_load(reports_dir / "benchmark.json") or {})
    baselines = _load(reports_dir / "baselines.json") or {}
    synthesis = _load(reports_dir / "synthesis.json")
    synonyms = _load(reports_dir / "synonyms.json")

    sections = ["# nsparse benchmark report", ""]
    quality = {b: systems for b, systems in benchmark.systems.items() if systems}
    if quality:
        plot_grouped_bars(quality, "ndcg@10", plots / "quality_ndcg10.png", "nDCG@10 on the live index")
        plot_grouped_bars(quality, "latency_p50_ms", plots / "latency_p50.png", "p50 latency (ms)")
        sections += ["## Quality (live OpenSearch index, test splits)", "", metric_table(quality, QUALITY_METRICS), ""]
        if benchmark.queries:
            sections += [f"- `{name}`: {label}" for name, label in benchmark.queries.items()] + [""]
        sections += _image(plots / "quality_ndcg10.png", "nDCG@10", True)
        sections += ["## Cost", "", metric_table(quality, COST_METRICS), ""]
        sections += ["Against BM25 on the same node:", "", bm25_ratio_table(quality), ""]
        sections += _image(plots / "latency_p50.png", "p50 latency", True)
    if significance := benchmark.significance:
        rows = [
            [bench, comparison, r.get("metric"), r.get("mean_difference"), r.get("p_value")]
            for bench, comparisons in significance.items()
            for comparison, r in comparisons.items()
        ]
        sections += [
            "## Paired significance tests",
            "",
            markdown_table(["benchmark", "comparison", "metric", "mean Δ", "p"], rows),
            "",
        ]
    if benchmark.parity:
        sections += ["## Live index vs in-process retriever", "", parity_table(benchmark.parity), ""]
    if baselines:
        tables = metric_table(benchmark_tables(baselines), QUALITY_METRICS)
        sections += ["## In-process and OpenSearch BM25 baselines", "", tables, ""]
        if NORI_TUNING in baselines:
            sections += nori_tuning_section(baselines[NORI_TUNING])

    curves = {v: read_training_curves(dvclive_root / v) for v in variants}
    written = plot_training_curves(curves, plots / "training_curves.png")
    benches = {v: _load(reports_dir / v / "encode_bench.json") for v in variants}
    if written or any(benches.values()):
        sections += ["## Training", ""] + _image(plots / "training_curves.png", "training curves", written)
    for variant, bench in benches.items():
        if bench:
            sections += encode_bench_section(variant, bench)

    for name, data, render, title in (
        ("synthesis", synthesis, synthesis_section, "Query synthesis"),
        ("synonyms", synonyms, synonyms_section, "Synonym verification"),
    ):
        if not data:
            continue
        counts = {k: v for k, v in _numeric_leaves(data).items() if "time" not in k and "seconds" not in k}
        plot = plots / f"{name}_counts.png"
        sections += render(data, _image(plot, name, plot_counts(counts, plot, title)))

    report_path = reports_dir / "report.md"
    write_text(report_path, "\n".join(sections))
    return report_path
