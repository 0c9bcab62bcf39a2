"""CI: the benchmark that ran on the three-node cluster ranked as the model does, on every benchmark.

Usage: python .ci/check_cluster_run.py reports/benchmark.json; exits 1 naming each benchmark
and variant whose live top-10 differs from exact retrieval on more than 1% of queries.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(path: Path) -> int:
    parity = json.loads(path.read_text())["parity"]
    failures = [
        f"{benchmark}/{variant}: identical top-10 for {figures['identical_topk_share']:.1%} of queries"
        for benchmark, variants in parity.items()
        for variant, figures in variants.items()
        if figures["identical_topk_share"] < 0.99
    ]
    for benchmark, variants in parity.items():
        shares = ", ".join(f"{v} {f['identical_topk_share']:.1%}" for v, f in variants.items())
        print(f"cluster parity {benchmark}: {shares}")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
