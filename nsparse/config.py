"""Reading `params.yaml`: the one place every stage takes its settings from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = Path(os.environ.get("NSPARSE_PARAMS", "params.yaml"))


def load_params(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Load params.yaml (or $NSPARSE_PARAMS); a missing or malformed file is a clear error."""
    params_path = Path(path) if path is not None else PARAMS_FILE
    if not params_path.exists():
        raise FileNotFoundError(f"{params_path}: no params file; run from the project root or set NSPARSE_PARAMS")
    try:
        with params_path.open(encoding="utf-8") as handle:
            params = yaml.safe_load(handle) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{params_path}: not valid YAML: {err}") from err
    if not isinstance(params, dict):
        raise ValueError(f"{params_path}: top level must be a mapping, got {type(params).__name__}")
    return params


def section(name: str, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """One top-level section of params.yaml, e.g. `section("train")`."""
    params = load_params(path)
    if name not in params:
        raise KeyError(f"{path or PARAMS_FILE}: missing section '{name}'")
    return params[name]
