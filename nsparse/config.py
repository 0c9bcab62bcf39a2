"""Reading `params.yaml`: the one place every stage takes its settings from.

The file is validated against the schema in `nsparse.params` on every load, so a
stage with a misspelt, mistyped or out-of-range parameter stops within seconds,
before it reads any data, with a one-line `ParamsError`. What comes back is the
typed, frozen `Params` model: stages pass its sections into the library as they are.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from nsparse.params import Params, ParamsError, validate_params

__all__ = ["PARAMS_FILE", "Params", "ParamsError", "load_params", "section"]

logger = logging.getLogger(__name__)
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
    validated = validate_params(params, str(params_path))
    for key, reason in changed_without_effect(validated, params_path.with_name("dvc.lock")).items():
        logger.warning("%s: %s changed since the last run but has no effect: %s", params_path, key, reason)
    return validated


def changed_without_effect(params: Params, lock_file: Path) -> dict[str, str]:
    """The ineffective settings (`Params.ineffective_settings`) whose value differs from the one dvc.lock recorded."""
    if not lock_file.exists():
        return {}
    recorded: dict[str, Any] = {}
    for stage in (yaml.safe_load(lock_file.read_text(encoding="utf-8")) or {}).get("stages", {}).values():
        recorded.update(_dotted_leaves(stage.get("params", {}).get("params.yaml", {})))
    current = _dotted_leaves(params.model_dump())
    return {
        key: reason
        for key, reason in params.ineffective_settings().items()
        if key in recorded and recorded[key] != current.get(key)
    }


def _dotted_leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a.b": value} for every non-mapping value of `tree` (dvc.lock records both nested and dotted keys)."""
    leaves: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            leaves.update(_dotted_leaves(value, f"{prefix}{key}."))
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


def section(name: str, path: str | os.PathLike[str] | None = None) -> BaseModel:
    """One top-level section of params.yaml, typed, e.g. `section("opensearch")`."""
    return getattr(load_params(path), name)
