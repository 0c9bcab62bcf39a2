"""The local OpenSearch node's processes: start, stop, inspect.

`nsparse node up` has `nsparse.opensearch.install` assemble the node once per
version, then runs it on 127.0.0.1 as a dedicated unprivileged user (OpenSearch
refuses to run as root) and waits until it is healthy; a running node is reused.
With `opensearch.nodes` (or `nsparse node up --nodes N`) above 1 it runs N nodes of
one cluster from the same distribution, each with its own config, data, logs, pid
file and ports. This module owns the processes: the pid files, the lock that
serialises up/down between processes, health waiting, stopping and the logs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import requests
import yaml

from nsparse.opensearch.install import Installer, NodeError, NodeMember, nsparse_home
from nsparse.opensearch.settings import node_settings, node_urls
from nsparse.params import OpenSearchSection

SERVICE_USER = "nsparse-opensearch"
STOP_TIMEOUT_S = 60


class Node:
    """The local OpenSearch: one node, or `settings.nodes` nodes forming one cluster on loopback."""

    def __init__(self, settings: OpenSearchSection | None = None, home: Path | None = None) -> None:
        self.settings = settings or node_settings()
        self.home = home or nsparse_home()
        self.installer = Installer(self.settings, self.home)
        self.layout = self.installer.layout
        self.members = self.layout.members(self.settings.nodes, self.settings.port)
        self.url = node_urls(self.settings)[0]  # the first node's: the one clients and `up` name

    def up(self) -> str:
        """Install if needed, start every node not already answering, wait for health; return the first URL."""
        with self._lock():
            waiting = [member for member in self.members if not self._answers_as(member)]
            if not waiting:
                return self.url
            for member in waiting:
                if self.pid(member) is not None:
                    raise NodeError(
                        f"node {member.name}, started from {self.layout.distribution}, is running but not answering "
                        f"on {member.url}; see `nsparse node logs`, or `nsparse node down` and retry"
                    )
            if not self.installer.installed():
                self.installer.install()
            check_ports_free(waiting)
            for member in waiting:
                self.installer.write_config(member, self.members)
                self.installer.seed_member_djl_cache(member)
            self._start(waiting)
            self._wait_for_health()
        return self.url

    def down(self, all_sizes: bool = False) -> list[NodeMember]:
        """Stop this cluster's nodes that are running (by their pid files); return them.

        With `all_sizes`, every node any `up` started under this root, whatever its cluster
        size (what `nsparse node down` does). Each node gets SIGTERM, then SIGKILL after a minute.
        """
        with self._lock():
            members = self._members_on_disk() if all_sizes else self.members
            running = self._running(members)
            for _, pid in running:
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while any(_alive(pid) for _, pid in running) and time.monotonic() < deadline:
                time.sleep(0.5)
            for _, pid in running:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            for member in members:
                member.pid_file.unlink(missing_ok=True)
            return [member for member, _ in running]

    def answers(self) -> bool:
        """True when the first node (the one at `settings.url`) answers HTTP."""
        return _answers(self.url)

    def pid(self, member: NodeMember | None = None) -> int | None:
        """The pid in a node's pid file (default: the first node's), if that process is alive and is our JVM."""
        member = member or self.members[0]
        try:
            pid = int(member.pid_file.read_text().strip())
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid if str(self.layout.distribution) in command_line else None

    def started_members(self) -> list[tuple[NodeMember, int]]:
        """(node, pid) for every node of any local cluster under this root whose JVM is running."""
        return self._running(self._members_on_disk())

    def _running(self, members: list[NodeMember]) -> list[tuple[NodeMember, int]]:
        return [(member, pid) for member in members if (pid := self.pid(member)) is not None]

    def log_tail(self, lines: int, member: NodeMember | None = None) -> str:
        """The end of a node's server log (default: the first node's), else of its stdout."""
        member = member or self.members[0]
        for log in (member.server_log, member.stdout_log):
            if log.exists():
                return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        return f"(no log yet under {member.logs})"

    def _answers_as(self, member: NodeMember) -> bool:
        """True when the member answers on its port; an error when another node holds that port."""
        try:
            answer = requests.get(member.url, timeout=5).json()
        except (requests.RequestException, ValueError):
            return False
        name = answer.get("name") if isinstance(answer, dict) else None
        if name != member.name:
            raise NodeError(
                f"{member.url} answers as node {name!r}, not {member.name}: another node holds node "
                f"{member.index}'s port; stop it, or choose other ports with NSPARSE_OPENSEARCH_PORT (opensearch.port)"
            )
        return True

    def _members_on_disk(self) -> list[NodeMember]:
        """The nodes of every cluster size set up under this root, with the ports their configs were written with."""
        members = []
        for size in self.layout.cluster_sizes_on_disk():
            first = self.layout.members(size, self.settings.port)[0]
            members += self.layout.members(size, _configured_http_port(first) or self.settings.port)
        return members

    def _start(self, members: list[NodeMember]) -> None:
        """Launch the nodes at once: a node of a cluster waits for the others before its start-up completes."""
        for member in members:
            member.data.mkdir(parents=True, exist_ok=True)
            member.logs.mkdir(parents=True, exist_ok=True)
            member.pid_file.unlink(missing_ok=True)
        as_service_user: list[str] = []
        if os.geteuid() == 0:
            _ensure_service_user()
            subprocess.run(["chown", "-R", f"{SERVICE_USER}:{SERVICE_USER}", str(self.layout.root)], check=True)
            as_service_user = ["runuser", "-u", SERVICE_USER, "--"]
        launches = []
        for member in members:
            command = [str(self.layout.distribution / "bin" / "opensearch"), "-d", "-p", str(member.pid_file)]
            environment = {**self.installer.node_environment(), "OPENSEARCH_PATH_CONF": str(member.config)}
            with member.stdout_log.open("w") as stdout:
                launch = subprocess.Popen(
                    [*as_service_user, *command], env=environment, stdout=stdout, stderr=subprocess.STDOUT
                )
            launches.append((member, launch))
        failed = [(member, launch.wait()) for member, launch in launches]
        failures = [
            f"node {member.name} (OpenSearch {self.settings.version}) failed to start (exit {code}):\n"
            f"{self.log_tail(40, member)}"
            for member, code in failed
            if code != 0
        ]
        if failures:
            raise NodeError("\n".join(failures))

    def _wait_for_health(self) -> None:
        """Until the cluster is yellow or green with every node joined, or a node dies, or time runs out."""
        deadline = time.monotonic() + self.settings.startup_timeout_s
        last_answer = "no answer"
        while time.monotonic() < deadline:
            for member in self.members:
                if member.pid_file.exists() and self.pid(member) is None:
                    raise NodeError(
                        f"node {member.name} exited during start-up; last log lines:\n{self.log_tail(40, member)}"
                    )
            with contextlib.suppress(requests.RequestException):
                health = requests.get(
                    f"{self.url}/_cluster/health",
                    params={"wait_for_status": "yellow", "wait_for_nodes": len(self.members), "timeout": "5s"},
                    timeout=10,
                )
                if health.ok and not health.json().get("timed_out"):
                    return
                last_answer = health.text[:300]
            time.sleep(1)
        logs = "\n".join(f"== {member.name}:\n{self.log_tail(20, member)}" for member in self.members)
        raise NodeError(
            f"{self.url} not healthy with {len(self.members)} node(s) after "
            f"{self.settings.startup_timeout_s}s (last answer: {last_answer}); last log lines:\n{logs}"
        )

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise up/down between processes (parallel test sessions share one node)."""
        self.layout.root.mkdir(parents=True, exist_ok=True)
        with open(self.layout.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


def resident_memory_bytes(pid: int) -> int:
    """A process's resident set size (VmRSS), as the kernel reports it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise NodeError(f"no VmRSS for pid {pid}")


def _configured_http_port(member: NodeMember) -> int | None:
    """The HTTP port in a node's opensearch.yml as `up` last wrote it (None before its first start)."""
    try:
        return int(yaml.safe_load((member.config / "opensearch.yml").read_text())["http.port"])
    except (FileNotFoundError, KeyError, TypeError, ValueError):
        return None


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).ok
    except requests.RequestException:
        return False


def check_ports_free(members: list[NodeMember]) -> None:
    """Fail before starting anything when another process holds a port one of the nodes needs."""
    for member in members:
        for kind, port in (("HTTP", member.http_port), ("transport", member.transport_port)):
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM does: TIME_WAIT is no owner
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    raise NodeError(
                        f"node {member.name}: {kind} port {port} on 127.0.0.1 is in use by another process; "
                        "stop it, or choose other ports with NSPARSE_OPENSEARCH_PORT (opensearch.port)"
                    ) from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _ensure_service_user() -> None:
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER], check=True
        )
