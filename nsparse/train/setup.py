"""From params.yaml's `train:` section to the objects a run needs (used by the `train` stage)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

from dvclive import Live

from nsparse.model.encoder import EncoderSettings, SparseEncoder, compute_idf
from nsparse.train.teachers import BM25Teacher, EncoderTeacher, Teacher
from nsparse.train.trainer import TrainSettings

TRAIN_FIELDS = {field.name for field in dataclasses.fields(TrainSettings)}
ENCODER_FIELDS = {field.name for field in dataclasses.fields(EncoderSettings)}


def train_settings(train: dict[str, Any], variant: dict[str, Any], seed: int) -> TrainSettings:
    """`train:` knobs, overridden by the variant's optional `train:` mapping."""
    merged = {**train, **variant.get("train", {}), "seed": seed}
    return TrainSettings(**{name: merged[name] for name in TRAIN_FIELDS if name in merged})


def build_encoder(base: str, train: dict[str, Any], pairs: list[dict]) -> SparseEncoder:
    """The base masked LM as a sparse encoder, its IDF computed on the training documents."""
    encoder = SparseEncoder.load(base, train_idf=train["train_idf"],
                                 **{name: train[name] for name in ENCODER_FIELDS if name in train})
    documents = {text for pair in pairs for text in (pair["positive"], *pair["negatives"])}
    encoder.set_idf(compute_idf(encoder.tokenizer, sorted(documents), encoder.settings.max_length))
    return encoder


def build_teacher(teacher: dict[str, Any]) -> Teacher:
    """`teacher.kind`: `bm25` (kiwi BM25) or `model` (a previous nsparse model at `teacher.model`)."""
    if teacher["kind"] == "bm25":
        return BM25Teacher(k1=teacher["k1"], b=teacher["b"])
    if teacher["kind"] == "model":
        return EncoderTeacher(SparseEncoder.load(teacher["model"]))
    raise ValueError(f"params.yaml train.teacher.kind must be 'bm25' or 'model', got {teacher['kind']!r}")


def fingerprint(*parts: Any) -> str:
    """A digest of everything that decides a run, so a stale checkpoint is never resumed."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def dvclive_logger(live: Live) -> Callable[[dict[str, float], int], None]:
    """A Trainer logger writing each metric at its step (plots) and refreshing metrics.json."""

    def log(metrics: dict[str, float], step: int) -> None:
        live.step = step
        for name, value in metrics.items():
            live.log_metric(name, value)
        live.make_summary()

    return log
