"""DVC stage `benchmark`: every deployed variant, BM25 (nori, defaults and the k1/b `baselines` chose) and hybrid
against the live index."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from nsparse.config import load_params
from nsparse.data import load_benchmark
from nsparse.io import atomic_open, write_json
from nsparse.opensearch.client import connect
from nsparse.pipeline.baselines import chosen_nori_similarity
from nsparse.pipeline.benchmark import VariantEncoders, quality_rows, run_all
from nsparse.pipeline.deploy import Deployment
from nsparse.pipeline.own import own_benchmarks


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("opensearch").setLevel(logging.WARNING)  # opensearch-py logs every request at INFO
    params = load_params()
    settings, evaluation, paths = params.benchmark, params.evaluation, params.paths
    reports = Path(paths.reports)
    nori_tuned = chosen_nori_similarity(reports / "baselines.json")  # nori's k1/b, chosen on dev by `baselines`
    folders = {name: Path(paths.benchmarks) / name for name in evaluation.benchmarks}
    benchmarks = {name: load_benchmark(folder, evaluation.split) for name, folder in folders.items()}
    dev = {name: load_benchmark(folders[name], "dev") for name in settings.hybrid_dev}
    own, labels = own_benchmarks(Path(paths.own))
    benchmarks.update(own)
    records = {v: Path(paths.deploy) / v / "deployment.json" for v in params.variants}
    deployments = {v: Deployment.load(path).require_complete(path) for v, path in records.items()}
    encoders = {v: VariantEncoders(Path(paths.models) / v, deployments[v]) for v in params.variants}
    prefix = params.deploy.index_prefix
    report = run_all(connect(), benchmarks, dev, deployments, encoders, settings, prefix, nori_tuned)
    report.queries = labels  # your benchmarks: judged or synthetic, the report says which
    write_json(reports / "benchmark.json", report.to_json())
    rows = quality_rows(report)
    with atomic_open(reports / "benchmark_quality.csv") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
