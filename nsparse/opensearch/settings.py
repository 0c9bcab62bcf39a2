"""The local node's settings and URL, apart from the code that installs and runs it.

Anything that only needs to know where the local node answers (the client's default
URL, above all) imports this module, which needs nothing beyond params.yaml and the
environment: no Maven fetching, no process handling.
"""

from __future__ import annotations

import os

from pydantic import ValidationError

from nsparse import config
from nsparse.params import OpenSearchSection, describe


def node_settings(section: OpenSearchSection | None = None) -> OpenSearchSection:
    """`section` (default: params.yaml's `opensearch:`), each key overridden by an NSPARSE_OPENSEARCH_<KEY> variable.

    Outside a project (no params.yaml) this is the FileNotFoundError that says so: the local node's settings
    live in params.yaml alone.
    """
    section = section if section is not None else config.load_params().opensearch
    overrides = {}
    for name, current in section.model_dump().items():
        variable = f"NSPARSE_OPENSEARCH_{name.upper()}"
        if variable in os.environ:
            try:
                overrides[name] = type(current)(os.environ[variable])
            except ValueError:
                raise ValueError(f"{variable}={os.environ[variable]!r}: expected {type(current).__name__}") from None
    try:
        return section.merged(overrides)
    except ValidationError as err:
        variables = ", ".join(f"NSPARSE_OPENSEARCH_{name.upper()}" for name in overrides)
        raise ValueError(f"{variables}: {describe(err, OpenSearchSection)}") from None


def major_version(settings: OpenSearchSection) -> int:
    return int(settings.version.split(".")[0])


def node_urls(settings: OpenSearchSection) -> list[str]:
    """Every local node's URL: node i answers on port + i; the first is the one clients and `up` name."""
    return [f"http://127.0.0.1:{settings.port + i}" for i in range(settings.nodes)]
