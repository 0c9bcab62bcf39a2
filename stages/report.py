"""DVC stage `report`: reports/report.md and reports/plots/*.png from the run's metrics."""

from __future__ import annotations

from pathlib import Path

from nsparse.config import load_params
from nsparse.pipeline.report import write_report


def main() -> None:
    params = load_params()
    paths = params["paths"]
    print(write_report(Path(paths["reports"]), Path(paths["live"]), list(params["variants"])))


if __name__ == "__main__":
    main()
