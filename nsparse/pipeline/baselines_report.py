"""The shape of reports/baselines.json, shared by the stage that writes it, the benchmark and the report.

One `{system: {metric: mean}}` table per benchmark (`nsparse.eval.baselines.score_systems`),
and beside them, under `NORI_TUNING`, the k1/b chosen for nori on the dev splits with the
dev grid it was chosen from.
"""

from __future__ import annotations

from typing import Any

NORI_TUNING = "bm25_nori_tuning"


def benchmark_tables(report: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """The per-benchmark tables of a baselines report, without nori's tuning record."""
    return {name: table for name, table in report.items() if name != NORI_TUNING}
