"""What each part of the model adds: exact in-process nDCG@10 on every test query -> reports/ablation.json.

Rows: the floor (BM25 over the base model's vocabulary, IDF from `train.lexical.idf_corpora`),
+ v1's translation table, + v1's document expansion table at the weight v1's training chose
(query weights still BM25's IDF in these three), then the trained v1 and v2.
Run after `dvc repro` (it reads models/base, models/v1, models/v2): `python scripts/ablation.py`.

`--synthesis` instead trains six models as `stages.train v2` does (v2's parallel text and
verified synonyms, v2's mixing with code-switched copies), varying only the synthetic
pairs (none / the offline methods' queries for the same sampled documents / the default
run's LLM queries in data/synth) and the document expansion table (off / at the weight
dev chooses) -> reports/ablation_synthesis.json. About 4 minutes a model on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from nsparse.config import load_params
from nsparse.data import Benchmark, load_benchmark, read_corpus, read_pairs
from nsparse.data.format import read_verified_dictionary
from nsparse.io import read_json, write_json
from nsparse.model.encoder import SparseEncoder
from nsparse.params import Params
from nsparse.pipeline.mix import build_mixture
from nsparse.pipeline.synthesize import synthesize_corpora
from nsparse.train.setup import build_encoder, prepare_run
from nsparse.train.trainer import RunPaths, Trainer
from nsparse.train.validation import capped_validation_set, validate


def score(encoder: SparseEncoder, benchmarks: dict[str, Benchmark], seed: int) -> dict[str, float]:
    """nDCG@10 of exact retrieval on every judged query of each benchmark, over its whole corpus (as validation)."""
    encoder.eval()
    sets = {name: capped_validation_set(bench, None, None, seed) for name, bench in benchmarks.items()}
    figures = validate(encoder, sets)
    return {name: round(figures[f"{name}/ndcg@10"], 4) for name in benchmarks}


def test_benchmarks(params: Params) -> dict[str, Benchmark]:
    evaluation, folder = params.evaluation, Path(params.paths.benchmarks)
    return {name: load_benchmark(folder / name, evaluation.split) for name in evaluation.benchmarks}


def parts(params: Params) -> None:
    paths, bm25 = params.paths, params.bm25
    benchmarks = test_benchmarks(params)
    corpora = [Path(paths.benchmarks) / name for name in params.train.lexical.idf_corpora]
    parallel = params.variants["v1"].parallel
    chosen = read_json(Path(paths.live) / "v1" / "metrics.json")["lexical"]["expansion"]["scale"]

    def untrained(parallel: list[str], pairs: list[dict], scale: float) -> SparseEncoder:
        train = params.train.merged({"lexical": {"expansion": {"scales": [scale]}}})
        return build_encoder(paths.base, train, bm25, pairs, parallel, corpora)[0]

    v1_pairs = read_pairs(Path(params.variants["v1"].pairs) / "pairs.jsonl")
    seed = params.seed
    rows = {
        "floor": score(untrained([], [], 0.0), benchmarks, seed),
        "+translation": score(untrained(parallel, [], 0.0), benchmarks, seed),
        f"+expansion ({chosen})": score(untrained(parallel, v1_pairs, chosen), benchmarks, seed),
    }
    for variant in params.variants:
        rows[variant] = score(SparseEncoder.load(Path(paths.models) / variant), benchmarks, seed)
    for row, scores in rows.items():
        print(row, scores)
    write_json(Path(paths.reports) / "ablation.json", rows)


def offline_pairs(params: Params, scratch: Path) -> list[dict]:
    """The offline methods' pairs for the documents the default run's LLM wrote for (same seed, same sample)."""
    settings, folder = params.synthesize, Path(params.paths.benchmarks)
    corpora = {name: read_corpus(folder / name / "corpus.jsonl") for name in settings.corpora}
    seed = params.seed
    pairs, report = synthesize_corpora(
        corpora, None, settings, params.bm25, None, seed, scratch / "cache", scratch / "own"
    )
    print("offline synthesis:", {key: report[key] for key in ("documents", "candidates", "kept", "rejected")})
    return pairs


def trained(params: Params, pairs: list[dict], scales: list[float], scratch: Path) -> SparseEncoder:
    """A model trained as `stages.train v2` trains (v2's parallel text, validation, steps), on `pairs`."""
    train = params.variant_train("v2").merged({"lexical": {"expansion": {"scales": scales}}})
    run = prepare_run(params, "v2", train, pairs)
    expansion = run.fitted.get("expansion", {})
    print("expansion:", expansion.get("scale"), "dev", expansion.get("dev"))
    run_paths = RunPaths(model_dir=scratch / "model", checkpoint_dir=scratch / "checkpoints")
    Trainer(run.encoder, run.pairs, train, params.seed, run_paths, run.validation).run()
    return SparseEncoder.load(run_paths.model_dir)


def synthesis_grid(params: Params) -> None:
    paths, seed = params.paths, params.seed
    benchmarks = test_benchmarks(params)
    original = read_pairs(Path(paths.train) / "pairs.jsonl")
    dictionary = read_verified_dictionary(Path(paths.synonyms) / "dictionary.tsv")
    scales = params.variant_train("v2").lexical.expansion.scales
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        synthetic = {
            "none": [],
            "offline": offline_pairs(params, Path(scratch) / "offline"),
            params.llm.model: read_pairs(Path(paths.synth) / "pairs.jsonl"),
        }
        for source, pairs in synthetic.items():
            mixture, composition = build_mixture(original, pairs, dictionary, params.mix, seed)
            for channel, channel_scales in (("without expansion", [0.0]), ("with expansion", scales)):
                row = f"{source} synthesis, {channel}"
                encoder = trained(params, mixture, channel_scales, Path(scratch) / source / channel.replace(" ", "-"))
                rows[row] = {"pairs": composition, **score(encoder, benchmarks, seed)}
                print(row, rows[row])
                write_json(Path(paths.reports) / "ablation_synthesis.json", rows)  # each row as it comes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthesis", action="store_true", help="the synthesis x expansion grid instead")
    params = load_params()
    (synthesis_grid if parser.parse_args().synthesis else parts)(params)


if __name__ == "__main__":
    main()
