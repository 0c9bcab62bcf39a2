"""Check that two clean `dvc repro` runs (two clones) produced the same outputs.

Usage: python .ci/compare_runs.py FIRST_CLONE SECOND_CLONE STAGE...

Every output of the named stages must have the same hash in both `dvc.lock` files.
The outputs that still record wall-clock times (TIMED) are compared file by file
instead, with the timing fields left out of their JSON files; wall-clock-only
outputs (encode_bench.json) are skipped. Exits 1 naming each output that differs.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from pathlib import Path
from typing import Any

import yaml

TIMED = [
    "data/benchmarks",
    "models/base",
    "dvclive/*/checkpoints",
    "dvclive/*/metrics.json",
    "reports/synthesis.json",
    "reports/synonyms.json",
]  # hold a "seconds" / "timings_s" field
WALL_CLOCK_ONLY = ["reports/*/encode_bench.json"]


def lock_outputs(clone: Path, stages: list[str]) -> dict[str, str]:
    lock = yaml.safe_load((clone / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    missing = [stage for stage in stages if stage not in lock]
    if missing:
        sys.exit(f"{clone / 'dvc.lock'}: no stages {missing}")
    return {out["path"]: out["md5"] for stage in stages for out in lock[stage].get("outs", [])}


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: without_timings(item)
            for key, item in value.items()
            if not (key == "seconds" or key.endswith("_seconds") or key == "timings_s")
        }
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


def same_file(first: Path, second: Path) -> bool:
    if first.suffix == ".json":
        return without_timings(json.loads(first.read_text("utf-8"))) == without_timings(
            json.loads(second.read_text("utf-8"))
        )
    return first.read_bytes() == second.read_bytes()


def differing_files(first: Path, second: Path) -> list[str]:
    """Files of one output (a file or a folder) that differ once timings are left out."""
    if first.is_file():
        return [] if second.is_file() and same_file(first, second) else [str(first)]
    names = {p.relative_to(first) for p in first.rglob("*") if p.is_file()}
    names |= {p.relative_to(second) for p in second.rglob("*") if p.is_file()}
    return [
        str(name)
        for name in sorted(names)
        if not ((first / name).is_file() and (second / name).is_file() and same_file(first / name, second / name))
    ]


def matches(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in patterns)


def main() -> None:
    first_clone, second_clone, *stages = sys.argv[1:]
    first, second = Path(first_clone), Path(second_clone)
    hashes_a, hashes_b = lock_outputs(first, stages), lock_outputs(second, stages)
    failures = []
    for path in sorted(hashes_a):
        if matches(path, WALL_CLOCK_ONLY) or hashes_a[path] == hashes_b.get(path):
            continue
        if not matches(path, TIMED):
            failures.append(f"{path}: hash {hashes_a[path]} vs {hashes_b.get(path)}")
        elif files := differing_files(first / path, second / path):
            failures.append(f"{path}: {', '.join(files[:5])} differ beyond their timings")
    for failure in failures:
        print(f"not reproduced: {failure}")
    compared = [path for path in hashes_a if not matches(path, WALL_CLOCK_ONLY)]
    reproduced = len(compared) - len(failures)
    print(f"{reproduced}/{len(compared)} outputs of {len(stages)} stages reproduced by a second clean run")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
