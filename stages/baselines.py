"""Stage `baselines`: BM25 in process (kiwi morphemes, the model's own tokens) and in OpenSearch (nori).

First chooses nori's k1/b on the dev splits of `baselines.nori_tuning.dev`, then scores every
system in `baselines.systems` on the judged split of every benchmark in `evaluation` (the
in-process ones with the pipeline's one BM25, `bm25`); writes reports/baselines.json with
the choice and its dev grid beside the tables.
"""

from __future__ import annotations

from pathlib import Path

from nsparse.config import load_params
from nsparse.data import load_benchmark
from nsparse.eval.baselines import score_systems
from nsparse.io import write_json
from nsparse.opensearch.client import connect
from nsparse.opensearch.index import BM25Similarity
from nsparse.pipeline.baselines import choose_nori_similarity, make_systems
from nsparse.pipeline.baselines_report import NORI_TUNING


def main() -> None:
    params = load_params()
    paths, settings, evaluation = params.paths, params.baselines, params.evaluation
    prefix, tuning = params.deploy.index_prefix, settings.nori_tuning
    folders = {name: Path(paths.benchmarks) / name for name in evaluation.benchmarks}
    dev = {name: load_benchmark(folders[name], "dev") for name in tuning.dev}
    choice = choose_nori_similarity(connect(), prefix, dev, tuning.k1, tuning.b, settings.depth)
    benchmarks = {name: load_benchmark(folder, evaluation.split) for name, folder in folders.items()}
    nori_tuned = BM25Similarity(choice["k1"], choice["b"])
    systems = make_systems(list(settings.systems), params.bm25, paths.base, prefix, nori_tuned)
    report = {**score_systems(benchmarks, systems, settings.depth), NORI_TUNING: choice}
    write_json(Path(paths.reports) / "baselines.json", report)


if __name__ == "__main__":
    main()
