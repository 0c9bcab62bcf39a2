"""Check that two clean `dvc repro` runs (two clones) produced the same outputs.

Usage: python .ci/compare_runs.py FIRST_CLONE SECOND_CLONE STAGE...

Every output of the named stages must have the same hash in both `dvc.lock` files.
Wall-clock figures live in outputs of their own (reports/timings/*.json, the encoding
benchmark), which are left out. Exits 1 naming each output that differs, and its files.
"""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

import yaml

WALL_CLOCK_ONLY = ["reports/timings/*", "reports/*/encode_bench.json"]


def lock_outputs(clone: Path, stages: list[str]) -> dict[str, str]:
    lock = yaml.safe_load((clone / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    missing = [stage for stage in stages if stage not in lock]
    if missing:
        sys.exit(f"{clone / 'dvc.lock'}: no stages {missing}")
    return {out["path"]: out["md5"] for stage in stages for out in lock[stage].get("outs", [])}


def differing_files(first: Path, second: Path) -> list[str]:
    """Files of one output (a file or a folder) whose bytes differ between the two runs."""
    if first.is_file():
        return [] if second.is_file() and first.read_bytes() == second.read_bytes() else [str(first)]
    names = {p.relative_to(first) for p in first.rglob("*") if p.is_file()}
    names |= {p.relative_to(second) for p in second.rglob("*") if p.is_file()}
    return [
        str(name)
        for name in sorted(names)
        if not ((first / name).is_file() and (second / name).is_file())
        or (first / name).read_bytes() != (second / name).read_bytes()
    ]


def main() -> None:
    first_clone, second_clone, *stages = sys.argv[1:]
    first, second = Path(first_clone), Path(second_clone)
    hashes_a, hashes_b = lock_outputs(first, stages), lock_outputs(second, stages)
    compared = [path for path in sorted(hashes_a) if not any(fnmatch.fnmatch(path, p) for p in WALL_CLOCK_ONLY)]
    failures = [path for path in compared if hashes_a[path] != hashes_b.get(path)]
    for path in failures:
        files = differing_files(first / path, second / path)
        print(f"not reproduced: {path} (hash {hashes_a[path]} vs {hashes_b.get(path)}): {', '.join(files[:5])}")
    reproduced = len(compared) - len(failures)
    print(f"{reproduced}/{len(compared)} outputs of {len(stages)} stages reproduced by a second clean run")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
