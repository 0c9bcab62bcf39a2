"""Reading `params.yaml`: the one place every stage takes its settings from.

The file is validated against the schema in `nsparse.params` on every load, so a
stage with a misspelt, mistyped or out-of-range parameter stops within seconds,
before it reads any data, with a one-line `ParamsError`. What comes back is the
typed, frozen `Params` model: stages pass its sections into the library as they are.
"""

from __future__ import annotations

import os
from pathlib import Path
import yaml
from pydantic import BaseModel

from nsparse.params import Params, ParamsError, validate_params

__all__ = ["PARAMS_FILE", "Params", "ParamsError", "load_params", "section"]

PARAMS_FILE = Path(os.environ.get("NSPARSE_PARAMS", "params.yaml"))


def load_params(path: str | os.PathLike[str] | None = None) -> Params:
    """Load and validate params.yaml (or $NSPARSE_PARAMS); a missing, malformed or invalid file is a clear error."""
    params_path = Path(path) if path is not None else PARAMS_FILE
    if not params_path.exists():
        raise FileNotFoundError(f"{params_path}: no params file; run from the project root or set NSPARSE_PARAMS")
    try:
        with params_path.open(encoding="utf-8") as handle:
            params = yaml.safe_load(handle) or {}
    except yaml.YAMLError as err:
        raise ParamsError(f"{params_path}: not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(params, dict):
        raise ParamsError(f"{params_path}: top level must be a mapping, got {type(params).__name__}")
    return validate_params(params, str(params_path))


def section(name: str, path: str | os.PathLike[str] | None = None) -> BaseModel:
    """One top-level section of params.yaml, typed, e.g. `section("opensearch")`."""
    return getattr(load_params(path), name)
