"""No setting's default stated twice: a default in nsparse's code that params.yaml also sets must equal it.

Why: a code default that drifts from params.yaml (`TrainSettings.steps = 300` against 600) is the
value a test, a script or a missed key silently gets. The scan reads the source (function keyword
defaults, class-level field defaults) for names that are params.yaml keys; `None` ("not given") is
always allowed. The same word sometimes names something else; those are listed with the reason.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]

OTHER_MEANINGS = {
    ("nsparse/io.py", "mode"): "a file's open mode, not train.encoder.mode",
    ("nsparse/model/encoder.py", "batch_size"): "texts per forward pass when encoding; no params.yaml key",
    ("nsparse/opensearch/index.py", "batch_size"): "documents per _bulk request; deploy passes deploy.bulk_batch_size",
    ("nsparse/opensearch/latency.py", "clients"): "one client: the latency sample; benchmark.clients is throughput's",
    ("nsparse/opensearch/ml.py", "timeout_s"): "ML Commons task waits, not llm.timeout_s",
    ("nsparse/eval/metrics.py", "seed"): "the paired test's own seed: p-values do not move with the pipeline seed",
    ("nsparse/tools/scale/settings.py", "corpora"): "`nsparse bench scale` flags, not params.yaml",
    ("nsparse/tools/scale/settings.py", "queries"): "`nsparse bench scale` flags, not params.yaml",
    ("nsparse/tools/scale/settings.py", "seed"): "`nsparse bench scale` flags, not params.yaml",
    ("nsparse/tools/scale/settings.py", "index_prefix"): "`nsparse bench scale` indices stay apart from deploy's",
}


def _params_values() -> dict[str, list[Any]]:
    """Every value params.yaml gives each key name, at any depth."""
    values: dict[str, list[Any]] = defaultdict(list)

    def walk(tree: dict[str, Any]) -> None:
        for key, value in tree.items():
            if isinstance(value, dict):
                walk(value)
            values[key].append(value)

    walk(yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8")))
    return values


def _defaults(tree: ast.AST) -> list[tuple[str, ast.expr]]:
    """(name, default expression) of every keyword default and class-level field default in a module."""
    found: list[tuple[str, ast.expr]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            positional = node.args.posonlyargs + node.args.args
            found += [
                (arg.arg, default)
                for arg, default in zip(positional[len(positional) - len(node.args.defaults) :], node.args.defaults)
            ]
            found += [
                (arg.arg, default)
                for arg, default in zip(node.args.kwonlyargs, node.args.kw_defaults)
                if default is not None
            ]
        elif isinstance(node, ast.ClassDef):
            found += [
                (statement.target.id, statement.value)
                for statement in node.body
                if isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and statement.value is not None
            ]
    return found


def _conflicts() -> dict[tuple[str, str], str]:
    values = _params_values()
    conflicts = {}
    for path in sorted((ROOT / "nsparse").rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        for name, expression in _defaults(ast.parse(path.read_text(encoding="utf-8"))):
            if name not in values:
                continue
            try:
                default = ast.literal_eval(expression)
            except (ValueError, TypeError, SyntaxError):
                continue  # computed: not a restated value
            if default is not None and all(default != value for value in values[name]):
                given = f"{name}={default!r}, params.yaml: {values[name]}"
                conflicts[(module, name)] = f"{module}:{expression.lineno}: {given}"
    return conflicts


def test_code_defaults_equal_params_yaml_or_do_not_exist():
    conflicts = _conflicts()
    assert [message for key, message in conflicts.items() if key not in OTHER_MEANINGS] == []
    assert sorted(set(OTHER_MEANINGS) - set(conflicts)) == []  # no stale exception


def test_the_scan_finds_a_restated_default():
    tree = ast.parse("def train(steps: int = 300, seed=None):\n    pass\nclass S:\n    learned_part: bool = True\n")
    values = _params_values()
    found = {name: ast.literal_eval(expression) for name, expression in _defaults(tree)}
    assert found == {"steps": 300, "seed": None, "learned_part": True}
    assert 300 not in values["steps"] and True not in values["learned_part"]
