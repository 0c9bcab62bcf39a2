"""DVC stage `deploy@<variant>`: fit the model to each corpus, register the models in ML Commons, build and fill
the indices.

Your own documents (data/own), when configured, are indexed too and get the alias `deploy.own_index`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from nsparse.config import load_params
from nsparse.opensearch.client import connect
from nsparse.pipeline.deploy import deploy_variant
from nsparse.pipeline.own import own_benchmark_folders, point_own_aliases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("opensearch").setLevel(logging.WARNING)  # opensearch-py logs every request at INFO
    params = load_params()
    paths, own = params.paths, Path(params.paths.own)
    benchmarks = {name: Path(paths.benchmarks) / name for name in params.evaluation.benchmarks}
    benchmarks.update(own_benchmark_folders(own))
    record = Path(paths.deploy) / args.variant / "deployment.json"
    deploy_variant(
        connect(),
        args.variant,
        Path(paths.models) / args.variant,
        Path(paths.exports) / args.variant,
        benchmarks,
        params.deploy,
        params.export,
        record=record,
    )
    for alias in point_own_aliases(connect(), record, own, params.deploy, list(params.variants)):
        print(f"your documents are searchable as {alias}")


if __name__ == "__main__":
    main()
