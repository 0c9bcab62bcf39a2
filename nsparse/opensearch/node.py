"""The local OpenSearch node's process: start, stop, inspect.

`nsparse node up` has `nsparse.opensearch.install` assemble the node once per
version, then runs it on 127.0.0.1 as a dedicated unprivileged user (OpenSearch
refuses to run as root) and waits until it is healthy; a running node is reused.
This module owns the process: the pid file, the lock that serialises up/down
between processes, health waiting, stopping and the logs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from nsparse.opensearch.install import Installer, NodeError, nsparse_home
from nsparse.opensearch.settings import NodeSettings

SERVICE_USER = "nsparse-opensearch"


class Node:
    """One local node: `up`, `down`, `status` and `logs` act on it."""

    def __init__(self, settings: NodeSettings | None = None, home: Path | None = None) -> None:
        self.settings = settings or NodeSettings.load()
        self.home = home or nsparse_home()
        self.installer = Installer(self.settings, self.home)
        self.layout = self.installer.layout

    def up(self) -> str:
        """Install if needed, start unless already answering, wait for health; return the URL."""
        with self._lock():
            if self.answers():
                return self.settings.url
            if self.pid() is not None:
                raise NodeError(
                    f"a node started from {self.layout.distribution} is running but not answering on "
                    f"{self.settings.url}; see `nsparse node logs`, or `nsparse node down` and retry"
                )
            if not self.installer.installed():
                self.installer.install()
            self.installer.write_config()
            self._start()
            self._wait_for_health()
        return self.settings.url

    def down(self) -> bool:
        """Stop the node this launcher started (by its pid file); True when one was running."""
        with self._lock():
            pid = self.pid()
            if pid is None:
                self.layout.pid_file.unlink(missing_ok=True)
                return False
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 60
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.5)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
            self.layout.pid_file.unlink(missing_ok=True)
            return True

    def answers(self) -> bool:
        try:
            return requests.get(self.settings.url, timeout=5).ok
        except requests.RequestException:
            return False

    def pid(self) -> int | None:
        """The pid in our pid file, if that process is alive and is our node's JVM."""
        try:
            pid = int(self.layout.pid_file.read_text().strip())
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid if str(self.layout.distribution) in command_line else None

    def log_tail(self, lines: int) -> str:
        for log in (self.layout.server_log, self.layout.stdout_log):
            if log.exists():
                return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        return f"(no log yet under {self.layout.logs})"

    def _start(self) -> None:
        self.layout.data.mkdir(parents=True, exist_ok=True)
        self.layout.logs.mkdir(parents=True, exist_ok=True)
        self.layout.pid_file.unlink(missing_ok=True)
        command = [str(self.layout.distribution / "bin" / "opensearch"), "-d", "-p", str(self.layout.pid_file)]
        if os.geteuid() == 0:
            _ensure_service_user()
            subprocess.run(["chown", "-R", f"{SERVICE_USER}:{SERVICE_USER}", str(self.layout.root)], check=True)
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        with self.layout.stdout_log.open("w") as stdout:
            result = subprocess.run(
                command,
                env=self.installer.node_environment(),
                stdout=stdout,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if result.returncode != 0:
            raise NodeError(
                f"OpenSearch {self.settings.version} failed to start (exit {result.returncode}):\n{self.log_tail(40)}"
            )

    def _wait_for_health(self) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout_s
        while time.monotonic() < deadline:
            if self.layout.pid_file.exists() and self.pid() is None:
                raise NodeError(f"OpenSearch exited during start-up; last log lines:\n{self.log_tail(40)}")
            with contextlib.suppress(requests.RequestException):
                health = requests.get(
                    f"{self.settings.url}/_cluster/health",
                    params={"wait_for_status": "yellow", "timeout": "5s"},
                    timeout=10,
                )
                if health.ok and not health.json().get("timed_out"):
                    return
            time.sleep(1)
        raise NodeError(
            f"{self.settings.url} not healthy after {self.settings.startup_timeout_s}s; "
            f"last log lines:\n{self.log_tail(40)}"
        )

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise up/down between processes (parallel test sessions share one node)."""
        self.layout.root.mkdir(parents=True, exist_ok=True)
        with open(self.layout.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


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
