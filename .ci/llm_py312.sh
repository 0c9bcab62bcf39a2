#!/usr/bin/env bash
# The LLM tests under CPython 3.12 (the GB10 team's Python), in a venv cached outside the clone.
# Finds python3.12 on PATH or under pyenv; the first run downloads the pinned wheels for 3.12
# (about 18 min here, mostly torch), later runs reuse the venv. Not part of .ci/run's time budget.
#   bash .ci/llm_py312.sh [pytest arguments]     # default: the LLM test files
set -euo pipefail
cd "$(dirname "$0")/.."
python312=$(command -v python3.12 || ls "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 2>/dev/null | tail -1 || true)
if [ -z "$python312" ]; then
  echo "no python3.12: install one (pyenv install 3.12, or apt-get install python3.12 on a release that has it)" >&2
  exit 1
fi
venv=${NSPARSE_VENV312:-$HOME/.cache/nsparse/venv-py312}
[ -x "$venv/bin/python" ] || "$python312" -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
requirements=$(mktemp)
trap 'rm -f "$requirements"' EXIT
python - > "$requirements" <<'PY'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["dev"]))
PY
python -m pip install --quiet -r "$requirements"
bash .ci/llm_extras.sh
python --version
[ $# -gt 0 ] || set -- tests/test_llm_backends.py tests/test_llm_awq.py tests/test_llm_gguf.py
PYTHONPATH=$PWD python -m pytest -q -p no:cacheprovider "$@"
