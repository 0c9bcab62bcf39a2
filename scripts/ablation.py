"""What each part of the model adds: exact in-process nDCG@10 on every test query -> reports/ablation.json.

Rows: the floor (BM25 over the base model's vocabulary, IDF from `train.lexical.idf_corpora`),
+ v1's translation table (query weights still BM25's IDF), then the trained v1 and v2.
Run after `dvc repro` (it reads models/base, models/v1, models/v2): `python scripts/ablation.py`.
"""

from __future__ import annotations

from pathlib import Path

import scipy.sparse as sp

from nsparse.config import load_params
from nsparse.data import Benchmark, load_benchmark
from nsparse.eval import SparseRetriever, evaluate
from nsparse.eval.bm25 import document_text
from nsparse.io import write_json
from nsparse.model.encoder import SparseEncoder
from nsparse.params import merged_train
from nsparse.train.setup import build_encoder


def score(encoder: SparseEncoder, benchmarks: dict[str, Benchmark]) -> dict[str, float]:
    """nDCG@10 of exact retrieval on each benchmark (benchmarks over one corpus share its encoding)."""
    encoder.eval()
    encoded: dict[tuple[str, ...], sp.csr_matrix] = {}
    scores = {}
    for name, bench in benchmarks.items():
        doc_ids = sorted(bench.corpus)
        key = tuple(doc_ids)
        if key not in encoded:
            encoded[key] = encoder.encode_documents([document_text(bench.corpus[i]) for i in doc_ids], progress=True)
        query_ids = list(bench.queries)
        queries = encoder.encode_queries([bench.queries[q] for q in query_ids])
        run = SparseRetriever(encoded[key], doc_ids).search(queries, query_ids, 100)
        scores[name] = round(evaluate(bench.qrels, run).summary["ndcg@10"], 4)
    return scores


def main() -> None:
    params = load_params()
    paths, bm25 = params["paths"], params["bm25"]
    evaluation = params["evaluation"]
    benchmarks = {
        name: load_benchmark(Path(paths["benchmarks"]) / name, evaluation["split"]) for name in evaluation["benchmarks"]
    }
    train = merged_train(params["train"], {})
    corpora = [Path(paths["benchmarks"]) / name for name in train["lexical"]["idf_corpora"]]
    floor, _ = build_encoder(paths["base"], train, bm25, [], [], corpora)
    translated, _ = build_encoder(paths["base"], train, bm25, [], params["variants"]["v1"]["parallel"], corpora)
    rows = {"floor": score(floor, benchmarks), "+translation": score(translated, benchmarks)}
    for variant in params["variants"]:
        rows[variant] = score(SparseEncoder.load(Path(paths["models"]) / variant), benchmarks)
    for row, scores in rows.items():
        print(row, scores)
    write_json(Path(paths["reports"]) / "ablation.json", rows)


if __name__ == "__main__":
    main()
