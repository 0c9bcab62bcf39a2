"""DVC stage `deploy@<variant>`: register the exported models in ML Commons, build and fill the indices."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from nsparse.config import load_params
from nsparse.opensearch.client import connect
from nsparse.pipeline.deploy import deploy_variant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("opensearch").setLevel(logging.WARNING)  # opensearch-py logs every request at INFO
    params = load_params()
    benchmarks = {name: Path("data/benchmarks") / name for name in params["benchmark"]["benchmarks"]}
    deploy_variant(connect(), args.variant, Path("models") / args.variant, Path("exports") / args.variant, benchmarks,
                   params["deploy"], record=Path("deploy") / args.variant / "deployment.json")


if __name__ == "__main__":
    main()
