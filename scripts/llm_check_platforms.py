"""Do the pinned dependencies install on another platform? (default: Linux aarch64, CPython 3.12: NVIDIA GB10 / Grace)

For every requirement of pyproject.toml (the main list plus the extras named with
--extras; the project pins them with ==), pip resolves it alone (`--no-deps`: the pins themselves are the
closure the project was tested with) against the target platform's wheel tags, reading
only the index's metadata (`pip install --dry-run --report`), so nothing is downloaded but
the metadata. A pin with no wheel for the target passes only if it is named in
BUILD_FROM_SOURCE (a source build the README documents) and the index has its sdist.
Exit status 1 names every pin that blocks.

    python scripts/llm_check_platforms.py                      # main pins + dev, llama, gpu extras
    python scripts/llm_check_platforms.py --python 3.11 --arch x86_64
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import tomllib
from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
# Pins that are compiled on the target machine, with how (README, "Bigger models, GPUs and real LLMs").
BUILD_FROM_SOURCE = {
    "llama-cpp-python": 'compiles llama.cpp: CMAKE_ARGS="-DGGML_CUDA=on" on a CUDA machine, '
    "-DGGML_NATIVE=OFF for a portable CPU wheel",
}
# glibc levels a current aarch64 distribution satisfies (DGX OS / Ubuntu 24.04 has glibc 2.39).
MANYLINUX = ("2014", "_2_17", "_2_24", "_2_26", "_2_27", "_2_28", "_2_31", "_2_34", "_2_35", "_2_36", "_2_38", "_2_39")


def pins(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return requirements


def platform_tags(arch: str) -> list[str]:
    return [f"manylinux{level}_{arch}" for level in MANYLINUX] + [f"linux_{arch}"]


def wheel_for(pin: str, python: str, arch: str) -> tuple[dict[str, Any] | None, str]:
    """pip's report entry for the wheel it would install for `pin` on the target, or None and pip's last error line."""
    platforms = [argument for tag in platform_tags(arch) for argument in ("--platform", tag)]
    with tempfile.TemporaryDirectory() as target:
        report = Path(target) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--ignore-installed",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            python,
            "--implementation",
            "cp",
            *platforms,
            "--target",
            str(Path(target) / "site"),
            "--report",
            str(report),
            pin,
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            errors = [line for line in result.stderr.splitlines() if line.strip()]
            return None, errors[-1] if errors else f"pip exited {result.returncode}"
        return json.loads(report.read_text(encoding="utf-8"))["install"][0], ""


def cuda_libraries(entry: dict[str, Any], python: str, arch: str) -> list[str]:
    """The NVIDIA CUDA wheels the chosen wheel needs on the target (none: a CPU-only build, e.g. torch on aarch64)."""
    environment = {
        "platform_system": "Linux",
        "sys_platform": "linux",
        "platform_machine": arch,
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
        "extra": "",
    }
    needed = []
    for requirement in entry["metadata"].get("requires_dist", []):
        name, _, marker = requirement.partition(";")
        if name.startswith("nvidia-cu") and (not marker or Marker(marker).evaluate(environment)):
            needed.append(name.split("==")[0].strip())
    return needed


def has_sdist(pin: str) -> bool:
    """Whether the index (PEP 691 JSON simple API) holds a source distribution `pin` accepts."""
    requirement = Requirement(pin)
    name = requirement.name
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    request = urllib.request.Request(f"{index}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        files = [file["filename"] for file in json.load(response)["files"]]
    sdists = [file.removesuffix(".tar.gz").removesuffix(".zip") for file in files if file.endswith((".tar.gz", ".zip"))]
    return any(requirement.specifier.contains(sdist.rsplit("-", 1)[-1], prereleases=True) for sdist in sdists)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default="3.12", help="target CPython version")
    parser.add_argument("--arch", default="aarch64", help="target machine (aarch64, x86_64)")
    parser.add_argument("--extras", default="dev,llama,gpu", help="comma-separated extras whose pins are checked too")
    arguments = parser.parse_args()
    extras = [extra for extra in arguments.extras.split(",") if extra]
    blocking = []
    for pin in pins(ROOT / "pyproject.toml", extras):
        entry, error = wheel_for(pin, arguments.python, arguments.arch)
        name = Requirement(pin).name.lower()
        if entry is not None:
            wheel = entry["download_info"]["url"].rsplit("/", 1)[-1]
            note = ""
            if name == "torch" and not cuda_libraries(entry, arguments.python, arguments.arch):
                note = "  (CPU-only build: take the CUDA build from PyTorch's own index, see README)"
            print(f"ok      {pin:32} {wheel}{note}")
        elif name in BUILD_FROM_SOURCE and has_sdist(pin):
            print(f"build   {pin:32} sdist: {BUILD_FROM_SOURCE[name]}")
        else:
            print(f"BLOCKS  {pin:32} {error}")
            blocking.append(pin)
    target = f"CPython {arguments.python} on Linux {arguments.arch}"
    if blocking:
        print(f"{len(blocking)} pin(s) block {target}: {', '.join(blocking)}")
        return 1
    print(f"every pin installs on {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
