"""From params.yaml's `train:` section to the objects a run needs (used by the `train` stage)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
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


class LiveLogger:
    """Trainer logger on dvclive: each metric at its step (plots/) and a refreshed metrics.json."""

    def __init__(self, live: Live) -> None:
        self.live = live

    def __call__(self, metrics: dict[str, float], step: int) -> None:
        self.live.step = step
        for name, value in metrics.items():
            self.live.log_metric(name, value)
        self.live.make_summary()

    def summarize(self, summary: dict[str, Any]) -> None:
        """Add the run's best validation figures and its duration to metrics.json."""
        self.live.summary["best"] = summary["best"] or {}
        self.live.summary.setdefault("train", {})["seconds"] = summary["seconds"]
        self.live.make_summary()


@contextlib.contextmanager
def live_logger(live_dir: Path, resume: bool) -> Iterator[LiveLogger]:
    """dvclive in `live_dir`, continuing its history when the run resumes."""
    with Live(str(live_dir), resume=resume, save_dvc_exp=False, dvcyaml=None) as live:
        yield LiveLogger(live)
