"""The `nsparse` console script: operations that are not DVC stages (the OpenSearch node, cleanup)."""

from __future__ import annotations

import argparse
import sys

from nsparse.opensearch import cli as opensearch_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nsparse", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    opensearch_cli.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
