#!/usr/bin/env bash
# One-time set-up on a fresh machine: system packages, the Python environment, and the
# local OpenSearch node (with ML Commons, neural search, k-NN and nori) on 127.0.0.1.
# Environment: NSPARSE_VENV (default .venv), NSPARSE_OPENSEARCH_URL (skip the local node
# and use your own cluster), NSPARSE_OPENSEARCH_VERSION (see README for tested versions).
set -euo pipefail
cd "$(dirname "$0")"
VENV=${NSPARSE_VENV:-.venv}

missing=()
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)  # javac builds the nori plugin
command -v mvn >/dev/null || missing+=(maven)
command -v unzip >/dev/null || missing+=(unzip)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup.sh: please install: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[dev]"

if [[ -z "${NSPARSE_OPENSEARCH_URL:-}" ]]; then
  "$VENV/bin/nsparse" node up
fi
echo "set-up done: activate with '. $VENV/bin/activate', then run 'dvc repro'"
