"""Load test: 8 concurrent clients for 60 s against each deployed system's live index -> reports/load.json.

Runs after `dvc repro` (it needs deploy/<variant>/deployment.json and the BM25 index the
benchmark built); queries are the benchmark's test queries, sent round-robin.

    python scripts/load_test.py [--clients 8] [--seconds 60] [--benchmark korquad] [--systems v1 v2 bm25_nori]
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from pathlib import Path
from typing import Any

from nsparse.config import load_params
from nsparse.data import load_benchmark
from nsparse.io import write_json
from nsparse.opensearch import search
from nsparse.opensearch.client import OpenSearchError, connect
from nsparse.opensearch.index import SPARSE_FIELD
from nsparse.opensearch.latency import run_load
from nsparse.pipeline.baselines import ensure_bm25_index
from nsparse.pipeline.deploy import Deployment


def main(argv: list[str] | None = None) -> int:
    params = load_params()
    paths = params.paths
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--benchmark", default="korquad", help="benchmark (folder under paths.benchmarks) whose test queries are sent"
    )
    parser.add_argument(
        "--systems",
        nargs="+",
        default=[*params.variants, "bm25_nori"],
        help="variants (their deployed indices) and/or bm25_nori",
    )
    parser.add_argument("--output", type=Path, default=Path(paths.reports) / "load.json")
    args = parser.parse_args(argv)
    logging.getLogger("opensearch").setLevel(logging.ERROR)  # one line per failed request would drown the report

    benchmark = load_benchmark(Path(paths.benchmarks) / args.benchmark, params.evaluation.split)
    texts = [benchmark.queries[query_id] for query_id in sorted(benchmark.queries)]
    client = connect()
    top_k = params.benchmark.top_k
    report: dict[str, Any] = {"benchmark": args.benchmark, "queries": len(texts), "top_k": top_k, "systems": {}}
    for system in args.systems:
        if system == "bm25_nori":
            index = ensure_bm25_index(client, params.deploy.index_prefix, benchmark.corpus)
            run = functools.partial(search.bm25, client, index, k=top_k)
        elif system in params.variants:
            record = Path(paths.deploy) / system / "deployment.json"
            deployment = Deployment.load(record).require_complete(record)
            index = deployment.indices[args.benchmark]
            run = functools.partial(
                search.neural_sparse_model,
                client,
                index,
                SPARSE_FIELD,
                model_id=deployment.query_model_id(args.benchmark),
                k=top_k,
            )
        else:
            parser.error(
                f"unknown system {system!r}: a variant of params.yaml ({', '.join(params.variants)}) or bm25_nori"
            )
        print(f"{system}: {args.clients} clients for {args.seconds:g} s on {index}", file=sys.stderr)
        report["systems"][system] = {"index": index, **run_load(run, texts, args.clients, args.seconds)}
    write_json(args.output, report)
    print(args.output)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OpenSearchError as err:
        sys.exit(f"load test: {err}")
