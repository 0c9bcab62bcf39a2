"""DVC stage `report`: reports/report.md, reports/plots/*.png and reports/headline.json from the run's metrics."""

from __future__ import annotations

from pathlib import Path

from nsparse.config import load_params
from nsparse.pipeline.report import write_headline, write_report


def main() -> None:
    params = load_params()
    paths = params.paths
    reports, variants = Path(paths.reports), list(params.variants)
    print(write_report(reports, Path(paths.live), variants))
    print(write_headline(reports, variants, params.benchmark.variant))


if __name__ == "__main__":
    main()
