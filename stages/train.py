"""Stage `train <variant>`: train one sparse encoder on the variant's pairs, keep the best by korquad dev nDCG@10.

Usage: python -m stages.train v1
"""

from __future__ import annotations

import sys
from pathlib import Path

from nsparse.config import load_params
from nsparse.data import read_pairs
from nsparse.io import write_timings
from nsparse.model.threads import configure_threads
from nsparse.train.setup import live_logger, prepare_run, truncate_live_history
from nsparse.train.trainer import CHECKPOINT_FILE, RunPaths, Trainer


def main(variant: str) -> None:
    params = load_params()
    paths, train = params.paths, params.variant_train(variant)
    configure_threads(train.threads)
    pairs = read_pairs(Path(params.variants[variant].pairs) / "pairs.jsonl")
    run = prepare_run(params, variant, train, pairs)
    live_dir = Path(paths.live) / variant
    run_paths = RunPaths(model_dir=Path(paths.models) / variant, checkpoint_dir=live_dir / "checkpoints")
    with live_logger(live_dir, resume=(run_paths.checkpoint_dir / CHECKPOINT_FILE).exists()) as logger:
        trainer = Trainer(
            run.encoder,
            run.pairs,
            train,
            params.seed,
            run_paths,
            run.validation,
            logger=logger,
            fingerprint=run.fingerprint,
        )
        logger.record("lexical", run.fitted)
        if trainer.resume():
            truncate_live_history(live_dir, trainer.step)
        summary = trainer.run()
        logger.summarize(summary)
    write_timings(paths.reports, f"train-{variant}", summary["timings_s"])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m stages.train <variant>")
    main(sys.argv[1])
