"""Overlay CI's reduced parameters onto params.yaml (deep merge), in a throwaway CI clone."""

import sys

import yaml

from nsparse.params import deep_merged

overlay_path, params_path = sys.argv[1:3]
with open(params_path, encoding="utf-8") as handle:
    params = yaml.safe_load(handle)
with open(overlay_path, encoding="utf-8") as handle:
    params = deep_merged(params, yaml.safe_load(handle) or {})
with open(params_path, "w", encoding="utf-8") as handle:
    yaml.safe_dump(params, handle, allow_unicode=True, sort_keys=False)
