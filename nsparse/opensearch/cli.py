"""`nsparse node up|down|status|logs`: the local OpenSearch node from the command line."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable

from nsparse.opensearch.artifacts import ArtifactNotFound
from nsparse.opensearch.client import ClusterSettings, ClusterUnreachable, OpenSearchError, connect
from nsparse.opensearch.install import NodeError
from nsparse.opensearch.node import Node
from nsparse.params import ParamsError

Command = Callable[[argparse.Namespace], int]


def _params_errors_as_one_line(command: Command) -> Command:
    """A broken params.yaml (read for the node's version and port) is one line on stderr, exit 1."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except ParamsError as err:
            print(f"nsparse node {args.action}: {err}", file=sys.stderr)
            return 1

    return run


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `node` command to the `nsparse` console script."""
    node = commands.add_parser("node", help="install, start, stop or inspect the local OpenSearch node")
    actions = node.add_subparsers(dest="action", required=True)
    guard = _params_errors_as_one_line
    actions.add_parser("up", help="install (once) and start the node; prints its URL last").set_defaults(
        func=guard(_up)
    )
    actions.add_parser("down", help="stop the node `up` started").set_defaults(func=guard(_down))
    actions.add_parser(
        "status",
        help="check NSPARSE_OPENSEARCH_URL, else the local node: exit 0 when it answers, "
        "1 when nothing answers, 2 when it answers but refuses (TLS, 401, 5xx)",
    ).set_defaults(func=guard(_status))
    logs = actions.add_parser("logs", help="print the end of the node's log")
    logs.add_argument("-n", "--lines", type=int, default=100, help="how many lines (default 100)")
    logs.set_defaults(func=guard(_logs))


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
    print(
        f"stopped the node at {node.settings.url}"
        if node.down()
        else f"no node started by nsparse for OpenSearch {node.settings.version}"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    """The cluster nsparse would use (NSPARSE_OPENSEARCH_URL, else the local node), named in every answer."""
    external = bool(os.environ.get("NSPARSE_OPENSEARCH_URL"))
    settings = ClusterSettings.from_env()
    which = "NSPARSE_OPENSEARCH_URL" if external else "the local node of params.yaml `opensearch`"
    try:
        info = connect(settings, timeout_s=5).info()
    except ClusterUnreachable:
        print(f"down: nothing answers at {settings.display_url} ({which})")
        return 1
    except OpenSearchError as err:  # TLS, 401, 403, 5xx: something answers, but refuses
        print(f"refuses: {settings.display_url} ({which}) answers but refuses: {err}")
        return 2
    pid = "" if external else f", pid {Node().pid()}"
    print(
        f"up: {settings.display_url} ({which}): OpenSearch {info['version']['number']}, "
        f"cluster {info['cluster_name']}{pid}"
    )
    return 0


def _logs(args: argparse.Namespace) -> int:
    print(Node().log_tail(args.lines))
    return 0
