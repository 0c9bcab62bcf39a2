"""Stage `baselines`: lexical baselines on the test split of every benchmark -> reports/baselines.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nsparse.config import load_params
from nsparse.data import load_benchmark
from nsparse.eval.baselines import System, bm25_kiwi_system, score_systems
from nsparse.io import write_json

BENCHMARKS = Path("data/benchmarks")


def make_systems(settings: dict[str, Any]) -> dict[str, System]:
    """The run function of every system named in `baselines.systems`, built from its own params."""
    factories = {
        "bm25_kiwi": lambda: bm25_kiwi_system(**settings["bm25_kiwi"]),
    }
    unknown = set(settings["systems"]) - factories.keys()
    if unknown:
        raise KeyError(f"params.yaml baselines.systems: unknown systems {sorted(unknown)} (known: {sorted(factories)})")
    return {name: factories[name]() for name in settings["systems"]}


def main() -> None:
    settings = load_params()["baselines"]
    benchmarks = {name: load_benchmark(BENCHMARKS / name, settings["split"]) for name in settings["benchmarks"]}
    write_json("reports/baselines.json", score_systems(benchmarks, make_systems(settings), settings["depth"]))


if __name__ == "__main__":
    main()
