"""The one build step pyproject.toml cannot state: a wheel carries the repository's `opensearch/` folder.

`opensearch/` (node components and config, index mappings and pipelines, the nori plugin's sources) stays at
the top of the repository, where the project layout and dvc.yaml name it; the wheel gets a copy as package
data, `nsparse/opensearch/assets/`, which `nsparse.opensearch.resources.assets_dir` finds. An editable install
reads the folder itself, so it gets no copy. Everything else is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ASSETS = "opensearch"
PACKAGED = Path("nsparse", "opensearch", "assets")


class BuildPyWithAssets(build_py):
    """`build_py`, then the `opensearch/` folder copied to `nsparse/opensearch/assets/` in the build."""

    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):
            self.copy_tree(ASSETS, str(Path(self.build_lib) / PACKAGED))


setup(cmdclass={"build_py": BuildPyWithAssets})
