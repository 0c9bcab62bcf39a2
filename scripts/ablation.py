"""What each part of the model adds: exact in-process nDCG@10 on every test query -> reports/ablation.json.

Rows: the floor (BM25 over the base model's vocabulary, IDF from `train.lexical.idf_corpora`),
+ v1's translation table, + v1's document expansion table at the weight v1's training chose
(query weights still BM25's IDF in these three), then the trained v1 and v2.
Run after `dvc repro` (it reads models/base, models/v1, models/v2): `python scripts/ablation.py`.
"""

from __future__ import annotations

from pathlib import Path

from nsparse.config import load_params
from nsparse.data import Benchmark, load_benchmark, read_pairs
from nsparse.io import read_json, write_json
from nsparse.model.encoder import SparseEncoder
from nsparse.params import deep_merged
from nsparse.train.setup import build_encoder
from nsparse.train.validation import capped_validation_set, validate


def score(encoder: SparseEncoder, benchmarks: dict[str, Benchmark], seed: int) -> dict[str, float]:
    """nDCG@10 of exact retrieval on every judged query of each benchmark, over its whole corpus (as validation)."""
    encoder.eval()
    sets = {name: capped_validation_set(bench, None, None, seed) for name, bench in benchmarks.items()}
    figures = validate(encoder, sets)
    return {name: round(figures[f"{name}/ndcg@10"], 4) for name in benchmarks}


def main() -> None:
    params = load_params()
    paths, bm25 = params["paths"], params["bm25"]
    evaluation = params["evaluation"]
    benchmarks = {
        name: load_benchmark(Path(paths["benchmarks"]) / name, evaluation["split"]) for name in evaluation["benchmarks"]
    }
    corpora = [Path(paths["benchmarks"]) / name for name in params["train"]["lexical"]["idf_corpora"]]
    parallel = params["variants"]["v1"]["parallel"]
    chosen = read_json(Path(paths["live"]) / "v1" / "metrics.json")["lexical"]["expansion"]["scale"]

    def untrained(parallel: list[str], pairs: list[dict], scale: float) -> SparseEncoder:
        train = deep_merged(params["train"], {"lexical": {"expansion": {"scales": [scale]}}})
        return build_encoder(paths["base"], train, bm25, pairs, parallel, corpora)[0]

    v1_pairs = read_pairs(Path(params["variants"]["v1"]["pairs"]) / "pairs.jsonl")
    seed = params["seed"]
    rows = {
        "floor": score(untrained([], [], 0.0), benchmarks, seed),
        "+translation": score(untrained(parallel, [], 0.0), benchmarks, seed),
        f"+expansion ({chosen})": score(untrained(parallel, v1_pairs, chosen), benchmarks, seed),
    }
    for variant in params["variants"]:
        rows[variant] = score(SparseEncoder.load(Path(paths["models"]) / variant), benchmarks, seed)
    for row, scores in rows.items():
        print(row, scores)
    write_json(Path(paths["reports"]) / "ablation.json", rows)


if __name__ == "__main__":
    main()
