"""Stage `baselines`: BM25 in process (kiwi morphemes, the model's own tokens) and in OpenSearch (nori).

Scores every system in `baselines.systems` on the judged split of every benchmark in
`evaluation`, all with the pipeline's one BM25 (`bm25`); writes reports/baselines.json.
"""

from __future__ import annotations

from pathlib import Path

from nsparse.config import load_params
from nsparse.data import load_benchmark
from nsparse.eval.baselines import score_systems
from nsparse.io import write_json
from nsparse.pipeline.baselines import make_systems


def main() -> None:
    params = load_params()
    paths, settings, evaluation = params["paths"], params["baselines"], params["evaluation"]
    benchmarks = {
        name: load_benchmark(Path(paths["benchmarks"]) / name, evaluation["split"]) for name in evaluation["benchmarks"]
    }
    systems = make_systems(settings["systems"], params["bm25"], paths["base"], params["deploy"]["index_prefix"])
    write_json(Path(paths["reports"]) / "baselines.json", score_systems(benchmarks, systems, settings["depth"]))


if __name__ == "__main__":
    main()
