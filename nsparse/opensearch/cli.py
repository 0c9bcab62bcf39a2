"""`nsparse node up|down|status|logs`: the local OpenSearch node from the command line."""

from __future__ import annotations

import argparse
import sys

from nsparse.opensearch.artifacts import ArtifactNotFound
from nsparse.opensearch.node import Node, NodeError


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `node` command to the `nsparse` console script."""
    node = commands.add_parser("node", help="install, start, stop or inspect the local OpenSearch node")
    actions = node.add_subparsers(dest="action", required=True)
    actions.add_parser("up", help="install (once) and start the node; prints its URL last").set_defaults(func=_up)
    actions.add_parser("down", help="stop the node `up` started").set_defaults(func=_down)
    actions.add_parser("status", help="exit 0 only when the node answers").set_defaults(func=_status)
    logs = actions.add_parser("logs", help="print the end of the node's log")
    logs.add_argument("-n", "--lines", type=int, default=100, help="how many lines (default 100)")
    logs.set_defaults(func=_logs)


def _up(args: argparse.Namespace) -> int:
    try:
        url = Node().up()
    except (NodeError, ArtifactNotFound) as err:
        print(f"nsparse node up: {err}", file=sys.stderr)
        return 1
    print(url)
    return 0


def _down(args: argparse.Namespace) -> int:
    node = Node()
    print(f"stopped the node at {node.settings.url}" if node.down() else f"no node started by nsparse for OpenSearch {node.settings.version}")
    return 0


def _status(args: argparse.Namespace) -> int:
    node = Node()
    if node.answers():
        print(f"up: {node.settings.url} (OpenSearch {node.settings.version}, pid {node.pid()})")
        return 0
    print(f"down: nothing answers on {node.settings.url}")
    return 1


def _logs(args: argparse.Namespace) -> int:
    print(Node().log_tail(args.lines))
    return 0
