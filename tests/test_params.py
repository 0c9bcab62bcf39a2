"""params.yaml's schema: the real files validate, and each bad value is one clear line, also from a stage."""

from __future__ import annotations

import copy
import logging
import os
import shutil
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from nsparse.config import ParamsError, load_params
from nsparse.params import Params

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))


def _with(path: str, value: Any) -> dict[str, Any]:
    """params.yaml with the dotted key `path` set to `value` (created when absent)."""
    params = copy.deepcopy(PARAMS)
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[last] = value
    return params


def _write(folder: Path, params: dict[str, Any]) -> Path:
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_the_project_params_validate():
    assert load_params(ROOT / "params.yaml").model_dump(exclude_unset=True) == PARAMS


def test_no_setting_has_a_default_in_the_schema():
    """params.yaml states every value once: a schema default would be a second statement that can drift."""
    optional = {("Variant", "train"), ("Variant", "parallel")}  # a variant's own overrides and extra texts
    seen: set[type[BaseModel]] = set()
    defaults = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            if not field.is_required() and (model.__name__, name) not in optional:
                defaults.append(f"{model.__name__}.{name}")
            for inner in _models_in(field.annotation):
                visit(inner)

    visit(Params)
    assert defaults == []


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def test_a_variant_trains_with_its_overrides_laid_over_train(tmp_path):
    params = _with("variants.v1.train", {"optimizer": {"steps": 3}, "lexical": {"expansion": {"scales": [0.5]}}})
    loaded = load_params(_write(tmp_path, params))
    v1, v2 = loaded.variant_train("v1"), loaded.variant_train("v2")
    assert (v1.optimizer.steps, v1.lexical.expansion.scales) == (3, [0.5])
    assert v1.optimizer.batch_size == v2.optimizer.batch_size == PARAMS["train"]["optimizer"]["batch_size"]
    assert (v2.optimizer.steps, v2.lexical.expansion.scales) == (600, PARAMS["train"]["lexical"]["expansion"]["scales"])


@pytest.mark.parametrize(
    ("path", "value", "warned"),
    [
        ("base.steps", 1000, "base.steps changed since the last run but has no effect: no variant trains the learned"),
        ("train.distillation.weight", 3.0, "train.distillation.weight changed since the last run but has no effect"),
        ("train.optimizer.steps", 601, None),  # it changes the model: no warning
    ],
)
def test_a_changed_setting_without_effect_is_warned(tmp_path, caplog, path, value, warned):
    shutil.copy(ROOT / "dvc.lock", tmp_path / "dvc.lock")
    with caplog.at_level(logging.WARNING, logger="nsparse.config"):
        load_params(_write(tmp_path, _with(path, value)))
    messages = [record.getMessage() for record in caplog.records]
    if warned:
        assert any(warned in message for message in messages), messages
    else:
        assert messages == []


def test_the_ci_overlay_validates(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", params)
    subprocess.run(
        [sys.executable, str(ROOT / ".ci/apply_params.py"), str(ROOT / ".ci/params-small.yaml"), str(params)],
        check=True,
    )
    assert load_params(params).train.optimizer.steps == 12


BAD = [
    ("train.objective.flops_wieght", 0.02, "train.objective.flops_wieght: unknown key; did you mean 'flops_weight'?"),
    ("train.optimizer.steps", "4", "train.optimizer.steps: input should be a valid integer, got '4'"),
    ("train.optimizer.steps", -5, "train.optimizer.steps: input should be greater than 0, got -5"),
    ("train.optimizer.warmup_ratio", 5, "train.optimizer.warmup_ratio: input should be less than or equal to 1, got 5"),
    (
        "train.optimizer.negatives_per_query",
        -1,
        "train.optimizer.negatives_per_query: input should be greater than or equal to 0, got -1",
    ),
    (
        "train.distillation.method",
        "bogus",
        "train.distillation.method: input should be 'kl' or 'margin_mse', got 'bogus'",
    ),
    ("train.objective.train_idf", 1, "train.objective.train_idf: input should be a valid boolean, got 1"),
    ("train.objective.train_idf", False, "train: objective: learned_part false and train_idf false: nothing would"),
    ("train.validation.split", "test", "train.validation.split: 'test' is for the final benchmark only"),
    ("deploy.ingest", "pipline", "deploy.ingest: input should be 'auto', 'pipeline' or 'client', got 'pipline'"),
    ("evaluation.split", "dev", "evaluation.split: 'dev' is model-selection data"),
    ("bm25.k1", 0, "bm25.k1: input should be greater than 0, got 0"),
    ("llm.backnd", "openai", "llm.backnd: unknown key; did you mean 'backend'?"),
    (
        "variants.v1.train",
        {"optimizer": {"stepz": 3}},
        "variants.v1.train.optimizer.stepz: unknown key; did you mean 'steps'?",
    ),
    (
        "variants.v1.train",
        {"optimizer": {"steps": "3"}},
        "variants.v1.train.optimizer.steps: input should be a valid integer, got '3'",
    ),
    ("opensearch.port", 70000, "opensearch.port: input should be less than or equal to 65535, got 70000"),
    ("base.num_heads", 3, "base: hidden_size (256) must be a multiple of num_heads (3)"),
    ("train.distillation", None, "train.distillation: expected a mapping, got None"),
    ("sources.libreoffice_help.libreoffice-help-ko.sha256", "abc", "libreoffice-help-ko.sha256: string should match"),
    ("prepare.pairs.mining_depth", 3, "prepare.pairs: mining_depth (3) is smaller than negatives (7)"),
    ("bogus", {}, "bogus: unknown key (valid keys: seed, paths, bm25, evaluation, sources,"),
    ("benchmark.variant", "v3", "(top level): benchmark.variant 'v3' is not one of variants ['v1', 'v2']"),
]


@pytest.mark.parametrize(("path", "value", "expected"), BAD, ids=[case[0] for case in BAD])
def test_a_bad_value_is_one_line_naming_the_key(tmp_path, path, value, expected):
    params_file = _write(tmp_path, _with(path, value))
    with pytest.raises(ParamsError) as raised:
        load_params(params_file)
    message = str(raised.value)
    assert message.startswith(f"{params_file}: ") and expected in message
    assert "\n" not in message


def test_a_misspelt_key_is_reported_once_not_also_as_missing(tmp_path):
    params = copy.deepcopy(PARAMS)
    objective = params["train"]["objective"]
    objective["flops_wieght"] = objective.pop("flops_weight")
    with pytest.raises(ParamsError) as raised:
        load_params(_write(tmp_path, params))
    assert str(raised.value).endswith("train.objective.flops_wieght: unknown key; did you mean 'flops_weight'?")


def test_broken_yaml_is_a_params_error(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train: [steps\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="not valid YAML") as raised:
        load_params(path)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "stage", ["mix", pytest.param("deploy", marks=pytest.mark.slow), pytest.param("train", marks=pytest.mark.slow)]
)
def test_a_stage_stops_in_seconds_with_the_one_line_message(tmp_path, stage):
    params_file = _write(tmp_path, _with("train.objective.flops_wieght", 0.02))
    env = {**os.environ, "NSPARSE_PARAMS": str(params_file)}
    command = [sys.executable, "-m", f"stages.{stage}", *(["v1"] if stage in ("deploy", "train") else [])]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {params_file}: train.objective.flops_wieght: unknown key; did you mean 'flops_weight'?"
    ]


def test_a_data_fault_in_a_stage_is_one_line_too(tmp_path):
    """`mix` reading a pairs file with bytes that are not UTF-8: `file:line: fault`, no traceback."""
    for folder in ("data/train", "data/synth", "data/synonyms"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "data/train/pairs.jsonl").write_bytes(b'{"query": "\xff"}\n')
    (tmp_path / "data/synth/pairs.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "data/synonyms/dictionary.tsv").write_text("", encoding="utf-8")
    env = {**os.environ, "NSPARSE_PARAMS": str(ROOT / "params.yaml"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "stages.mix"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == ["error: data/train/pairs.jsonl:1: not UTF-8: byte 0xff at column 12"]
