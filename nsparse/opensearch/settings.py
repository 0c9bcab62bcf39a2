"""The local node's settings and URL, apart from the code that installs and runs it.

Anything that only needs to know where the local node answers (the client's default
URL, above all) imports this module, which needs nothing beyond params.yaml and the
environment: no Maven fetching, no process handling.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, fields
from typing import Any

from nsparse import config

MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2"


@dataclass(frozen=True)
class NodeSettings:
    """The `opensearch:` section of params.yaml, each key overridable by an NSPARSE_OPENSEARCH_<KEY> variable."""

    version: str = "3.6.0"
    heap: str = "1g"
    port: int = 9200
    java_home: str = "auto"
    fetch: str = "auto"
    maven_repository: str = MAVEN_CENTRAL
    distribution_url: str = ""
    startup_timeout_s: int = 240
    nodes: int = 1

    @classmethod
    def load(cls, params: dict[str, Any] | None = None) -> NodeSettings:
        """Settings from params (default: params.yaml's `opensearch` section, if there is one) and the environment."""
        if params is None:
            with contextlib.suppress(FileNotFoundError):
                params = config.section("opensearch")
        values = {f.name: (params or {}).get(f.name, f.default) for f in fields(cls)}
        for name, current in values.items():
            variable = f"NSPARSE_OPENSEARCH_{name.upper()}"
            if variable in os.environ:
                try:
                    values[name] = type(current)(os.environ[variable])
                except ValueError:
                    raise ValueError(
                        f"{variable}={os.environ[variable]!r}: expected {type(current).__name__}"
                    ) from None
        return cls(**values)

    def __post_init__(self) -> None:
        if self.nodes < 1:
            raise ValueError(f"opensearch.nodes (NSPARSE_OPENSEARCH_NODES) must be at least 1, not {self.nodes}")

    @property
    def major_version(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def urls(self) -> list[str]:
        """Every node's URL: node i answers on port + i."""
        return [f"http://127.0.0.1:{self.port + i}" for i in range(self.nodes)]
