"""The `nsparse` console script: operations that are not DVC stages (the OpenSearch node, cleanup)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nsparse.opensearch import cli as opensearch_cli


def _cleanup(args: argparse.Namespace) -> int:
    """Delete what `deploy@<variant>` created on the cluster (indices, ingest pipeline, models)."""
    # Imported here: the pipeline pulls in torch, which `nsparse node ...` should not wait for.
    from nsparse.opensearch.client import connect
    from nsparse.pipeline.deploy import Deployment, cleanup

    record = Path(args.deploy_dir) / args.variant / "deployment.json"
    if not record.exists():
        print(f"nsparse cleanup: {record} not found: nothing was deployed for {args.variant!r}", file=sys.stderr)
        return 1
    cleanup(connect(), Deployment.load(record))
    print(f"removed the indices, pipeline and models of {args.variant}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nsparse", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    opensearch_cli.register(commands)
    cleanup_parser = commands.add_parser("cleanup", help=_cleanup.__doc__)
    cleanup_parser.add_argument("variant", help="the variant whose deployment to remove, e.g. v1")
    cleanup_parser.add_argument("--deploy-dir", default="deploy", help="where deploy wrote deployment.json files")
    cleanup_parser.set_defaults(func=_cleanup)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
