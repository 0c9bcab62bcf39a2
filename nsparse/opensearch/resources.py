"""Where the node's and the indices' files are: the repository's `opensearch/` folder (components, node
config, index mappings and pipelines, the nori plugin's sources), in an installed package or the source tree.

The folder stays at the top of the repository (dvc.yaml and the docs name it there). A wheel carries
a copy as package data, `nsparse/opensearch/assets/` (setup.py copies it when it builds), read
through `importlib.resources`; an editable install or a checkout has no copy and reads the folder itself.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PACKAGED = "assets"  # the copy's folder inside this package, in a wheel
SOURCE_TREE = Path(__file__).resolve().parents[2] / "opensearch"  # the folder itself, in a checkout


def assets_dir() -> Path:
    """The `opensearch/` folder: the installed package's copy when there is one, else the source tree's."""
    packaged = resources.files(__package__) / PACKAGED
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return SOURCE_TREE
