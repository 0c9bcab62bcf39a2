"""Stage `train <variant>`: train one sparse encoder on the variant's pairs, keep the best by korquad dev nDCG@10.

Usage: python -m stages.train v1
"""

from __future__ import annotations

import sys
from pathlib import Path

from nsparse.config import load_params
from nsparse.data import load_benchmark, read_pairs
from nsparse.io import read_json, write_timings
from nsparse.model.base import seed_everything
from nsparse.model.threads import configure_threads
from nsparse.params import deep_merged
from nsparse.train.setup import (
    build_encoder,
    build_teacher,
    fingerprint,
    live_logger,
    train_settings,
    truncate_live_history,
)
from nsparse.train.teachers import attach_teacher_scores
from nsparse.train.trainer import CHECKPOINT_FILE, RunPaths, Trainer
from nsparse.train.validation import capped_validation_set


def main(variant: str) -> None:
    params = load_params()
    paths, variant_params, bm25 = params["paths"], params["variants"][variant], params["bm25"]
    train = deep_merged(params["train"], variant_params.get("train", {}))
    configure_threads(train.get("threads"))
    seed_everything(params["seed"])
    settings = train_settings(train, params["seed"])
    pairs = read_pairs(Path(variant_params["pairs"]) / "pairs.jsonl")
    base = read_json(Path(paths["base"]) / "source.json")["model"]
    benchmarks = Path(paths["benchmarks"])
    checks = train["validation"]
    validation = {
        name: capped_validation_set(
            load_benchmark(benchmarks / name, checks["split"]),
            checks["max_docs"],
            checks["max_queries"],
            params["seed"],
        )
        for name in checks["benchmarks"]
    }
    encoder, fitted = build_encoder(
        base,
        train,
        bm25,
        pairs,
        variant_params.get("parallel", []),
        [benchmarks / name for name in train["lexical"]["idf_corpora"]],
        Path(paths["dictionaries"]) / "heldout.tsv",  # the MUSE test split: the table's held-out quality
        validation,  # the expansion's weight is chosen on it
    )
    if settings.distill:
        pairs = attach_teacher_scores(pairs, build_teacher(train["distillation"]["teacher"], bm25))
    live_dir = Path(paths["live"]) / variant
    run_paths = RunPaths(model_dir=Path(paths["models"]) / variant, checkpoint_dir=live_dir / "checkpoints")
    with live_logger(live_dir, resume=(run_paths.checkpoint_dir / CHECKPOINT_FILE).exists()) as logger:
        trainer = Trainer(
            encoder,
            pairs,
            settings,
            run_paths,
            validation,
            logger=logger,
            fingerprint=fingerprint(base, train, bm25, variant_params, params["seed"], len(pairs)),
        )
        logger.record("lexical", fitted)
        if trainer.resume():
            truncate_live_history(live_dir, trainer.step)
        summary = trainer.run()
        logger.summarize(summary)
    write_timings(paths["reports"], f"train-{variant}", summary["timings_s"])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m stages.train <variant>")
    main(sys.argv[1])
