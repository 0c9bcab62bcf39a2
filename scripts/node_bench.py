"""Measure the local OpenSearch node: download size, first and warm start, memory, clean shutdown.

Installs a node from scratch into a temporary NSPARSE_HOME (fetching every artifact
over HTTPS from the configured Maven repository, as on a machine without Maven),
on its own port so that a node already running is left alone, then writes
reports/opensearch/node_bench.json.

    python scripts/node_bench.py [--version 2.19.1] [--port 9250] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import requests

from nsparse.io import write_json
from nsparse.opensearch.node import Node, resident_memory_bytes
from nsparse.opensearch.settings import node_settings

REPORT = Path("reports/opensearch/node_bench.json")


def directory_bytes(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def bench(version: str, port: int, home: Path) -> dict:
    settings = node_settings().merged({"version": version, "port": port, "fetch": "https"})
    node = Node(settings, home=home)
    started = time.monotonic()
    node.up()
    first_start_s = time.monotonic() - started
    pid = node.pid()
    plugins = sorted(
        row["component"] for row in requests.get(f"{node.url}/_cat/plugins?format=json", timeout=30).json()
    )
    idle_rss = resident_memory_bytes(pid)
    node.down()
    started = time.monotonic()
    node.up()
    warm_start_s = time.monotonic() - started
    warm_pid = node.pid()
    node.down()
    return {
        "opensearch_version": version,
        "java_home": str(node.installer.java_home()),
        "download_bytes": directory_bytes(home / "downloads"),
        "installed_bytes": directory_bytes(node.layout.distribution) + directory_bytes(node.layout.data / "ml_cache"),
        "first_start_s": round(first_start_s, 1),
        "warm_start_s": round(warm_start_s, 1),
        "heap": settings.heap,
        "idle_rss_bytes": idle_rss,
        "plugins": plugins,
        "left_running_after_down": os.path.exists(f"/proc/{warm_pid}"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default=node_settings().version)
    parser.add_argument("--port", type=int, default=9250)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary install (printed) instead of deleting it"
    )
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="nsparse-node-bench-", dir="/var/tmp"))
    home.chmod(0o755)  # the node's service user must reach its install
    try:
        result = bench(args.version, args.port, home)
    finally:
        if args.keep:
            print(f"install kept in {home}")
        else:
            shutil.rmtree(home)
    runs = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    runs[args.version] = result
    write_json(REPORT, runs)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
