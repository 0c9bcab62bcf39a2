"""Stage `baselines`: lexical baselines on the test split of every benchmark -> reports/baselines.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nsparse.config import load_params
from nsparse.data import load_benchmark
from nsparse.eval.baselines import System, bm25_kiwi_system, score_systems
from nsparse.io import write_json
from nsparse.opensearch.client import connect
from nsparse.pipeline.baselines import bm25_nori_system, bm25_vocab_system

BENCHMARKS = Path("data/benchmarks")


def make_systems(settings: dict[str, Any], index_prefix: str) -> dict[str, System]:
    """The run function of every system named in `baselines.systems`, built from its own params."""
    factories = {
        "bm25_kiwi": lambda: bm25_kiwi_system(**settings["bm25_kiwi"]),
        "bm25_nori": lambda: bm25_nori_system(connect(), index_prefix),
        "bm25_vocab": lambda: bm25_vocab_system(**settings["bm25_vocab"]),
    }
    unknown = set(settings["systems"]) - factories.keys()
    if unknown:
        raise KeyError(f"params.yaml baselines.systems: unknown systems {sorted(unknown)} (known: {sorted(factories)})")
    return {name: factories[name]() for name in settings["systems"]}


def main() -> None:
    params = load_params()
    settings = params["baselines"]
    benchmarks = {name: load_benchmark(BENCHMARKS / name, settings["split"]) for name in settings["benchmarks"]}
    systems = make_systems(settings, params["deploy"]["index_prefix"])
    write_json("reports/baselines.json", score_systems(benchmarks, systems, settings["depth"]))


if __name__ == "__main__":
    main()
