"""dvc.yaml declares, for every stage, each nsparse module the stage's code imports (statically, transitively).

Why: a module missing from a stage's deps means `dvc repro` keeps that stage's old
outputs after the module changed, the one thing a DVC pipeline must not do.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))

# Imported by every stage, but nothing a stage writes depends on them: listing them would
# rerun the whole pipeline whenever, say, a params key is added to the schema.
NOT_OUTPUT_RELEVANT = {
    "nsparse/__init__.py",  # package docstring and version string
    "nsparse/config.py",  # reads params.yaml (whose values DVC tracks through `params:`)
    "nsparse/params.py",  # validates params.yaml; never changes a value
    "nsparse/io.py",  # atomic writes, JSON helpers
    "nsparse/faults.py",  # the UserFault marker class
    "stages/__init__.py",  # prints a user fault (nsparse/faults.py) without a traceback
}


def module_file(module: str) -> Path | None:
    """The file of an `nsparse...` (or `stages...`) module, package `__init__.py` included; None if not ours."""
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_files(path: Path) -> set[Path]:
    """Files of the project modules that `path` imports anywhere (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from nsparse.opensearch import index`: `index` may itself be a module.
            modules = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for module in modules:
            if module.split(".")[0] not in ("nsparse", "stages"):
                continue
            parts = module.split(".")
            for depth in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
                file = module_file(".".join(parts[:depth]))
                if file is not None:
                    found.add(file)
    return found


def import_closure(entry: Path) -> set[str]:
    """Every project file `python -m stages.<name>` executes, as paths relative to the project root."""
    seen: set[Path] = set()
    todo = [entry, ROOT / "stages" / "__init__.py"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(imported_files(path) - seen)
    return {path.relative_to(ROOT).as_posix() for path in seen}


def docstring_only(path: str) -> bool:
    """A package `__init__.py` holding nothing but a docstring executes nothing a stage could depend on."""
    body = ast.parse((ROOT / path).read_text(encoding="utf-8")).body
    return len(body) <= 1 and all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def stage_deps(name: str) -> list[str]:
    stage = DVC_YAML["stages"][name]
    return [dep if isinstance(dep, str) else next(iter(dep)) for dep in stage.get("do", stage)["deps"]]


def covered(path: str, deps: list[str]) -> bool:
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.parametrize("name", sorted(DVC_YAML["stages"]))
def test_stage_deps_cover_every_module_the_stage_imports(name):
    entry = ROOT / "stages" / f"{name}.py"
    assert entry.is_file(), f"stage {name}: no {entry}"
    deps = stage_deps(name)
    closure = {path for path in import_closure(entry) - NOT_OUTPUT_RELEVANT if not docstring_only(path)}
    missing = sorted(path for path in closure if not covered(path, deps))
    assert not missing, f"dvc.yaml stage {name}: add to deps {missing}"


def test_the_closure_follows_imports_through_packages():
    closure = import_closure(ROOT / "stages" / "deploy.py")
    assert {
        "stages/deploy.py",
        "nsparse/pipeline/deploy.py",
        "nsparse/opensearch/client.py",
        "nsparse/export/onnx.py",
        "nsparse/data/__init__.py",
        "nsparse/data/format.py",
    } <= closure
