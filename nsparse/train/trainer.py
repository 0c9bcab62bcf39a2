"""The training loop: contrastive ranking + FLOPS sparsity (+ optional distillation), resumable.

Everything a run depends on is a function of the seed and the step: the batch order is
drawn from `(seed, epoch)` and the checkpoint carries model, optimizer, scheduler and
every RNG state, so a run interrupted and resumed matches an uninterrupted one.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from nsparse.io import atomic_open, write_json
from nsparse.model.encoder import SparseEncoder
from nsparse.params import Train
from nsparse.train.losses import distillation, flops, info_nce, quadratic_warmup
from nsparse.train.validation import ValidationSet, validate

CHECKPOINT_FILE = "last.pt"
BEST_DIR = "best"
COMPLETED_FILE = "completed.json"


@dataclass
class Batch:
    queries: list[str]
    documents: list[str]  # positives (one per query, in query order), then all hard negatives
    candidates: torch.Tensor  # [queries, 1 + negatives] column of each query's own candidates in `documents`
    valid: torch.Tensor  # [queries, 1 + negatives] which candidates exist
    teacher_scores: torch.Tensor | None  # [queries, 1 + negatives] aligned with `candidates`


def micro_batch(pairs: list[dict], train: Train, seed: int, index: int) -> Batch:
    """Micro-batch number `index` of the run: a pure function of the seed, so resume replays it exactly."""
    batch_size, negatives_per_query = train.optimizer.batch_size, train.optimizer.negatives_per_query
    per_epoch = len(pairs) // batch_size
    if per_epoch == 0:
        raise ValueError(f"{len(pairs)} training pairs: fewer than one batch of {batch_size}")
    epoch, position = divmod(index, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(len(pairs))
    chosen = [pairs[i] for i in order[position * batch_size : (position + 1) * batch_size]]
    picker = random.Random(f"{seed}:{index}")
    width = 1 + negatives_per_query
    candidates = torch.zeros(len(chosen), width, dtype=torch.long)
    valid = torch.zeros(len(chosen), width, dtype=torch.bool)
    teacher = torch.zeros(len(chosen), width) if train.distillation.method else None
    negatives: list[str] = []
    for row, pair in enumerate(chosen):
        candidates[row, 0], valid[row, 0] = row, True
        picked = sorted(picker.sample(range(len(pair["negatives"])), min(negatives_per_query, len(pair["negatives"]))))
        for column, negative in enumerate(picked, start=1):
            candidates[row, column] = len(chosen) + len(negatives)
            valid[row, column] = True
            negatives.append(pair["negatives"][negative])
        if teacher is not None:
            if "teacher_scores" not in pair:
                raise ValueError(
                    "distillation is on but a training pair has no 'teacher_scores' (see attach_teacher_scores)"
                )
            scores = pair["teacher_scores"]
            teacher[row, 0] = scores[0]
            for column, negative in enumerate(picked, start=1):
                teacher[row, column] = scores[1 + negative]
    return Batch(
        [pair["query"] for pair in chosen],
        [pair["positive"] for pair in chosen] + negatives,
        candidates,
        valid,
        teacher,
    )


@dataclass(frozen=True)
class RunPaths:
    """Where a run writes. The checkpoint folder survives an interruption (DVC `persist`)."""

    model_dir: Path  # the final product: the best (or, without validation, the last) encoder
    checkpoint_dir: Path  # last.pt and best/ while the run is unfinished; completed.json after

    @property
    def best_dir(self) -> Path:
        return self.checkpoint_dir / BEST_DIR


def capture_rng() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def save_encoder_atomically(encoder: SparseEncoder, folder: Path) -> None:
    """Write the encoder beside `folder` and swap it in, so a crash never leaves half a model."""
    staging = folder.with_name(f".{folder.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    encoder.save(staging)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(staging, folder)


class Trainer:
    """Trains one encoder on inline training pairs; see `run`."""

    def __init__(
        self,
        encoder: SparseEncoder,
        pairs: list[dict],
        train: Train,
        seed: int,
        paths: RunPaths,
        validation: dict[str, ValidationSet] | None = None,
        logger: Callable[[dict[str, float], int], None] | None = None,
        device: str | None = None,
        fingerprint: str = "",
    ) -> None:
        """`train` is params.yaml's `train:` (a variant's); its `objective` decides what learns: the IDF
        re-weighting (`train_idf`), the transformer and the floor's gate (`learned_part`). `fingerprint`
        identifies the configuration: a checkpoint of another one is not resumed."""
        self.encoder = encoder
        self.fingerprint = fingerprint
        self.pairs = pairs
        self.train = train
        self.seed = seed
        self.paths = paths
        self.validation = validation
        self.logger = logger
        self.device = torch.device(device or default_device())
        self.encoder.to(self.device)
        objective, optimizer = train.objective, train.optimizer
        encoder.idf_log_scale.requires_grad_(objective.train_idf)
        if encoder.mlm is None and objective.learned_part:
            raise ValueError(
                "train.objective.learned_part needs a transformer, and the base model has none (stage base "
                "pre-trains one when a variant trains the learned part)"
            )
        if not objective.learned_part:
            if encoder.mlm is not None:
                encoder.mlm.requires_grad_(False)
            encoder.gate.requires_grad_(False)  # a floor model stays one: forward skips the transformer, save drops it
        model_parameters = [
            parameter
            for name, parameter in encoder.named_parameters()
            if parameter.requires_grad and name != "idf_log_scale"
        ]
        groups = [{"params": model_parameters, "weight_decay": optimizer.weight_decay}] if model_parameters else []
        if encoder.idf_log_scale.requires_grad:
            groups.append({"params": [encoder.idf_log_scale], "lr": optimizer.idf_learning_rate, "weight_decay": 0.0})
        if not groups:
            raise ValueError("nothing to train: train.objective.learned_part and train_idf are both off")
        self.optimizer = torch.optim.AdamW(groups, lr=optimizer.learning_rate)
        self.scheduler = get_linear_schedule_with_warmup(
            self.optimizer, int(optimizer.warmup_ratio * optimizer.steps), optimizer.steps
        )
        self.step = 0
        self.best: dict[str, float] | None = None

    # --- checkpoints -------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        state = {
            "fingerprint": self.fingerprint,
            "step": self.step,
            "model": self.encoder.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": capture_rng(),
            "best": self.best,
        }
        with atomic_open(self.paths.checkpoint_dir / CHECKPOINT_FILE, "wb") as handle:
            torch.save(state, handle)

    def resume(self) -> bool:
        """Continue from the last checkpoint of this configuration, if any; True when resumed."""
        file = self.paths.checkpoint_dir / CHECKPOINT_FILE
        if not file.exists():
            return False
        state = torch.load(file, map_location=self.device, weights_only=False)
        if state.get("fingerprint") != self.fingerprint:
            tqdm.write(f"{file}: checkpoint of another configuration; starting afresh")
            return False
        self.encoder.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        restore_rng(state["rng"])
        self.step, self.best = state["step"], state["best"]
        return True

    # --- one optimizer step --------------------------------------------------------------
    def loss_terms(self, batch: Batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The loss terms of one micro-batch, and its documents' mean non-zero terms (a diagnostic, not a loss)."""
        encoder, objective, distill = self.encoder, self.train.objective, self.train.distillation
        encoder_settings = encoder.settings
        queries = encoder.tokenize(batch.queries, encoder_settings.query_max_length)
        documents = encoder.tokenize(batch.documents, encoder_settings.max_length)
        query_vectors = encoder.query_vectors(**queries)
        doc_vectors = encoder(**documents)
        flops_weight = quadratic_warmup(self.step, objective.flops_weight, objective.flops_warmup_steps)
        terms = {
            "ranking": info_nce(query_vectors, doc_vectors, objective.temperature),
            "flops_doc": flops_weight * flops(doc_vectors, objective.l0_threshold),
        }
        if encoder_settings.mode == "bi-encoder":
            query_weight = quadratic_warmup(self.step, objective.query_flops_weight, objective.flops_warmup_steps)
            terms["flops_query"] = query_weight * flops(query_vectors, None)  # queries: no l0 mask
        if batch.teacher_scores is not None:
            scores = query_vectors @ doc_vectors.T
            own = scores.gather(1, batch.candidates.to(self.device))
            terms["distill"] = distill.weight * distillation(
                own,
                batch.teacher_scores.to(self.device),
                batch.valid.to(self.device),
                distill.method,
                distill.temperature,
            )
        if encoder.idf_log_scale.requires_grad:
            terms["idf_prior"] = objective.idf_prior_weight * encoder.idf_log_scale.square().sum()
        return terms, (doc_vectors > 0).sum(dim=1).float().mean().detach()

    def train_step(self) -> dict[str, float]:
        accumulated: dict[str, float] = {}
        micro_batches = self.train.optimizer.accumulation_steps
        for micro in range(micro_batches):
            batch = micro_batch(self.pairs, self.train, self.seed, self.step * micro_batches + micro)
            terms, doc_nnz = self.loss_terms(batch)
            loss = sum(terms.values())
            (loss / micro_batches).backward()
            for name, value in {**terms, "doc_nnz": doc_nnz, "loss": loss}.items():
                accumulated[name] = accumulated.get(name, 0.0) + value.item() / micro_batches
        torch.nn.utils.clip_grad_norm_(self.encoder.parameters(), self.train.optimizer.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return accumulated

    # --- the run ---------------------------------------------------------------------------
    def evaluate_and_keep_best(self) -> dict[str, float]:
        scores = validate(self.encoder, self.validation)
        if self.best is None or scores["ndcg@10"] > self.best["ndcg@10"]:
            self.best = {**scores, "step": self.step}
            save_encoder_atomically(self.encoder, self.paths.best_dir)
        return scores

    def run(self, stop_after: int | None = None) -> dict[str, Any]:
        """Train to `train.optimizer.steps` (or only until step `stop_after`, to simulate an interruption)."""
        steps, schedule = self.train.optimizer.steps, self.train.schedule
        last = steps if stop_after is None else min(stop_after, steps)
        started = time.perf_counter()
        if self.step == 0 and self.validation is not None:
            self.encoder.eval()
            scores = self.evaluate_and_keep_best()  # the untrained start is a candidate: never ship worse
            if self.logger:
                self.logger({f"val/{name}": value for name, value in scores.items()}, 0)
        self.encoder.train()
        progress = tqdm(total=last, initial=self.step, desc="train", unit="step", mininterval=10)
        while self.step < last:
            figures = self.train_step()
            progress.update(1)
            progress.set_postfix(loss=f"{figures['loss']:.3f}", nnz=f"{figures['doc_nnz']:.0f}", refresh=False)
            self.report(figures, final=self.step == steps)
            if self.step % schedule.checkpoint_every == 0 or self.step == last:
                self.save_checkpoint()
        progress.close()
        summary = {"steps": self.step, "best": self.best}
        if self.step == steps:
            self.finish(summary)
        return {**summary, "timings_s": {"train": time.perf_counter() - started}}

    def report(self, figures: dict[str, float], final: bool) -> None:
        """Log training figures and, when due, validate."""
        schedule = self.train.schedule
        if self.logger and self.step % schedule.log_every == 0:
            self.logger({f"train/{name}": value for name, value in figures.items()}, self.step)
        if self.validation is not None and (self.step % schedule.validate_every == 0 or final):
            scores = self.evaluate_and_keep_best()
            if self.logger:
                self.logger({f"val/{name}": value for name, value in scores.items()}, self.step)

    def finish(self, summary: dict[str, Any]) -> None:
        """Publish the product to `model_dir` and retire the checkpoint, so a rerun starts afresh.

        Idempotent: a crash at any point leaves either the new model in `best/` (published
        again by the rerun, which resumes at the last step) or already in `model_dir`;
        an existing `model_dir` is only ever replaced by a complete one, never deleted first.
        """
        if self.validation is None and not self.paths.best_dir.exists():
            save_encoder_atomically(self.encoder, self.paths.best_dir)
        if self.paths.best_dir.exists():
            publish_directory(self.paths.best_dir, self.paths.model_dir)
        write_json(self.paths.checkpoint_dir / COMPLETED_FILE, {"fingerprint": self.fingerprint, **summary})
        (self.paths.checkpoint_dir / CHECKPOINT_FILE).unlink(missing_ok=True)


def publish_directory(source: Path, target: Path) -> None:
    """Move folder `source` to `target`, replacing a previous `target` only once the new one is in place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    previous = target.with_name(f".{target.name}.previous")
    shutil.rmtree(previous, ignore_errors=True)
    if target.exists():
        os.replace(target, previous)
    os.replace(source, target)
    shutil.rmtree(previous, ignore_errors=True)
