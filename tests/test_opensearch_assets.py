"""The repository's opensearch/ folder (node components and config, mappings, the nori plugin's sources) reaches
nsparse wherever it runs: read from the source tree in a checkout, from the package's copy once installed.

The wheel test builds as `pip install .` does, in an isolated environment: pip fetches setuptools for it
from the package index (or its cache)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from nsparse.opensearch import index, install
from nsparse.opensearch.resources import SOURCE_TREE, assets_dir

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "opensearch"
# What a wheel is built from (the sdist's content; MANIFEST.in adds opensearch/).
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "nsparse", "opensearch")


def asset_files() -> list[str]:
    return sorted(path.relative_to(ASSETS).as_posix() for path in ASSETS.rglob("*") if path.is_file())


def test_a_checkout_reads_the_repository_folder() -> None:
    assert SOURCE_TREE == ASSETS and assets_dir() == ASSETS
    assert install.COMPONENTS_FILE == ASSETS / "node" / "components.yaml"
    assert index.MAPPINGS_DIR == ASSETS / "mappings"


@pytest.mark.slow
def test_a_wheel_carries_the_folder_and_an_installed_copy_reads_it_through_importlib_resources(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", str(source), "-w", str(tmp_path / "wheels")], check=True)
    (wheel,) = (tmp_path / "wheels").glob("nsparse-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = sorted(
            name.removeprefix("nsparse/opensearch/assets/")
            for name in archive.namelist()
            if name.startswith("nsparse/opensearch/assets/")
        )
    assert packaged == asset_files()

    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)], check=True)
    probe = """
import json
from importlib import resources
from nsparse.opensearch import index, install
from nsparse.opensearch.resources import assets_dir
print(json.dumps({
    "assets": str(assets_dir()),
    "via_resources": str(resources.files("nsparse.opensearch") / "assets"),
    "components": str(install.COMPONENTS_FILE),
    "text_index": index.load_body("text_index"),
}))
"""
    # The installed copy comes first on the path; the checkout's editable install (if any) is not consulted.
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    installed = site / "nsparse" / "opensearch" / "assets"
    assert Path(found["assets"]) == Path(found["via_resources"]) == installed
    assert Path(found["components"]) == installed / "node" / "components.yaml"
    assert found["text_index"] == json.loads((ASSETS / "mappings" / "text_index.json").read_text(encoding="utf-8"))
