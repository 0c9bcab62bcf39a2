"""`nsparse node up|down|status|logs`: the local OpenSearch node from the command line."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import textwrap
from collections.abc import Callable

from opensearchpy import OpenSearch

from nsparse.opensearch.artifacts import ArtifactNotFound
from nsparse.opensearch.client import ClusterSettings, ClusterUnreachable, OpenSearchError, connect, refused_as
from nsparse.opensearch.install import NodeError, NodeMember
from nsparse.opensearch.node import Node, resident_memory_bytes
from nsparse.opensearch.settings import node_settings, node_urls
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


EXAMPLES = {
    "node": """\
        examples:
          nsparse node up            # install once (cached outside the repo), start, wait for health
          nsparse node status
          nsparse node logs -n 200
          nsparse node down""",
    "up": """\
        examples:
          nsparse node up
          nsparse node up --nodes 3   # a cluster on ports 9200-9202: a shard per node and 1 replica
          NSPARSE_OPENSEARCH_VERSION=2.19.1 NSPARSE_OPENSEARCH_PORT=9250 nsparse node up   # a 2.x node beside it""",
    "down": """\
        examples:
          nsparse node down
          NSPARSE_OPENSEARCH_VERSION=2.19.1 NSPARSE_OPENSEARCH_PORT=9250 nsparse node down""",
    "status": """\
        examples:
          nsparse node status
          NSPARSE_OPENSEARCH_URL=https://search.example.com:9200 nsparse node status   # your cluster""",
    "logs": """\
        examples:
          nsparse node logs -n 200
          nsparse node logs --node 1   # the second node of a cluster""",
}


def _parser(commands: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with its examples (EXAMPLES), line for line."""
    return commands.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=textwrap.dedent(EXAMPLES[name]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `node` command to the `nsparse` console script."""
    node = _parser(commands, "node", "install, start, stop or inspect the local OpenSearch node")
    actions = node.add_subparsers(dest="action", required=True)
    guard = _params_errors_as_one_line
    up = _parser(actions, "up", "install (once) and start the node(s); prints the first node's URL last")
    up.add_argument(
        "--nodes",
        type=_positive_int,
        help="run a cluster of N nodes on ports port..port+N-1 (default: params.yaml opensearch.nodes)",
    )
    up.set_defaults(func=guard(_up))
    _parser(actions, "down", "stop every node `up` started").set_defaults(func=guard(_down))
    _parser(
        actions,
        "status",
        "check NSPARSE_OPENSEARCH_URL, else the local node: exit 0 when it answers, "
        "1 when nothing answers, 2 when it answers but refuses (TLS, 401, 5xx)",
    ).set_defaults(func=guard(_status))
    logs = _parser(actions, "logs", "print the end of the node's log (each node's, for a cluster)")
    logs.add_argument("-n", "--lines", type=int, default=100, help="how many lines (default 100)")
    logs.add_argument("--node", type=int, metavar="I", help="only node I of the cluster (0 is the first)")
    logs.set_defaults(func=guard(_logs))


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of nodes, at least 1, not {text!r}")
    return int(text)


def _up(args: argparse.Namespace) -> int:
    settings = node_settings()
    if args.nodes:
        settings = settings.merged({"nodes": args.nodes})
    try:
        url = Node(settings).up()
    except (NodeError, ArtifactNotFound) as err:
        print(f"nsparse node up: {err}", file=sys.stderr)
        return 1
    if settings.nodes > 1:
        print(f"{settings.nodes} nodes: {' '.join(node_urls(settings))}")
    print(url)
    return 0


def _down(args: argparse.Namespace) -> int:
    node = Node()
    stopped = node.down(all_sizes=True)
    for member in stopped:
        print(f"stopped the node at {member.url}" + (f" ({member.name})" if len(stopped) > 1 else ""))
    if not stopped:
        print(f"no node started by nsparse for OpenSearch {node.settings.version}")
    return 0


def _status(args: argparse.Namespace) -> int:
    """The cluster nsparse would use (NSPARSE_OPENSEARCH_URL, else the local node), named in every answer."""
    external = bool(os.environ.get("NSPARSE_OPENSEARCH_URL"))
    settings = ClusterSettings.from_env()
    which = "NSPARSE_OPENSEARCH_URL" if external else "the local node of params.yaml `opensearch`"
    try:
        client = connect(settings, timeout_s=5)
        info = client.info()
    except ClusterUnreachable:
        print(f"down: nothing answers at {settings.display_url} ({which})")
        return 1
    except OpenSearchError as err:  # TLS, 401, 403, 5xx: something answers, but refuses
        print(f"refuses: {settings.display_url} ({which}) answers but refuses: {err}")
        return 2
    started = [] if external else Node().started_members()
    pid = "" if external else f", pid {next((pid for member, pid in started if member.url == settings.url), None)}"
    print(
        f"up: {settings.display_url} ({which}): OpenSearch {info['version']['number']}, "
        f"cluster {info['cluster_name']}{pid}"
    )
    _print_local_nodes(started, client)
    return 0


def _print_local_nodes(started: list[tuple[NodeMember, int]], client: OpenSearch) -> None:
    """One line per running local node: port, pid, role (and whether it is the cluster manager), heap, RSS."""
    if not started:
        return
    with refused_as("listing the cluster's nodes"):
        rows = client.cat.nodes(format="json", h="name,node.role,cluster_manager,heap.current,heap.max")
    by_name = {row["name"]: row for row in rows}
    for member, pid in started:
        row = by_name.get(member.name)
        joined = (
            f"role {row['node.role']}{' (cluster manager)' if row['cluster_manager'] == '*' else ''}, "
            f"heap {row['heap.current']} of {row['heap.max']}"
            if row
            else "not in the cluster answering here"
        )
        rss_mib = resident_memory_bytes(pid) / 2**20
        print(f"  {member.name}: port {member.http_port}, pid {pid}, {joined}, RSS {rss_mib:.0f} MiB")


def _logs(args: argparse.Namespace) -> int:
    node = Node()
    running = [member for member, _ in node.started_members()]
    members = running or node.members
    if args.node is not None:
        chosen = [member for member in members if member.index == args.node]
        if not chosen:
            print(f"nsparse node logs: no node {args.node}; nodes are 0..{len(members) - 1}", file=sys.stderr)
            return 1
        members = chosen
    for member in members:
        if len(members) > 1:
            print(f"== {member.name} ({member.url}, {member.server_log})")
        print(node.log_tail(args.lines, member))
    return 0
