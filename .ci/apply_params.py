"""Overlay CI's reduced parameters onto params.yaml (deep merge), in a throwaway CI clone."""

import sys
from typing import Any

import yaml


def merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    for key, value in overlay.items():
        base[key] = merge(base.get(key, {}), value) if isinstance(value, dict) else value
    return base


overlay_path, params_path = sys.argv[1:3]
with open(params_path, encoding="utf-8") as handle:
    params = yaml.safe_load(handle)
with open(overlay_path, encoding="utf-8") as handle:
    merge(params, yaml.safe_load(handle) or {})
with open(params_path, "w", encoding="utf-8") as handle:
    yaml.safe_dump(params, handle, allow_unicode=True, sort_keys=False)
