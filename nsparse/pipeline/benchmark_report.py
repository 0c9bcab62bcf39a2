"""The shape of reports/benchmark.json, shared by the stage that writes it and the report that reads it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class BenchmarkReport:
    """Live-index results of every benchmark: one typed field per kind of figure, never mixed in one mapping."""

    systems: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # benchmark -> system -> metric
    significance: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # benchmark -> comparison -> test
    parity: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # benchmark -> variant -> live vs exact
    queries: dict[str, str] = field(default_factory=dict)  # your benchmarks: judged or synthetic queries
    hybrid: dict[str, Any] = field(default_factory=dict)  # BM25's weight per query group, as chosen on the dev splits

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchmarkReport:
        return cls(**data)
