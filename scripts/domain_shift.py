"""Does the model hold on a corpus it was not built from, and on long documents? -> reports/domain_shift.json

Exact in-process nDCG@10 (every test query, whole corpora, `rank_features` precision), as
`nsparse evaluate` scores and deploy indexes:

- **statistics** (leave one corpus out): the trained model scored on msmarco-ko and on korquad
  with its BM25 statistics (IDF, mean length) as shipped (from both corpora), fitted to the
  *other* corpus only (a model built elsewhere, deployed here unfitted), fitted to the target
  corpus (what deploy does), and fitted to a random half of it (an index that grew after the fit:
  the drift a stale fit costs). BM25 (kiwi) on the same corpus is the reference.
- **long documents**: korquad's paragraphs joined into whole Wikipedia articles (the articles'
  questions now point at the article; the other documents stay as distractors), scored with
  documents cut at 512 tokens (ML Commons' limit), read whole, split into overlapping
  512-token passages max-pooled into one vector, and the best passage's score.

Run after `dvc repro` (reads models/<variant> and data/benchmarks): `python scripts/domain_shift.py`.
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from nsparse.config import load_params
from nsparse.data import Benchmark, load_benchmark
from nsparse.eval import BM25Kiwi, SparseRetriever, evaluate
from nsparse.eval.bm25 import document_text
from nsparse.io import write_json
from nsparse.model.encoder import SparseEncoder
from nsparse.params import Bm25Params
from nsparse.pipeline.fitting import encode_corpus, fit_to_corpus

ML_COMMONS_WINDOW = 512
PASSAGE_OVERLAP = 128


def ndcg(encoder: SparseEncoder, bench: Benchmark) -> float:
    """nDCG@10 of exact retrieval over the whole corpus, documents at index precision."""
    doc_ids, docs = encode_corpus(encoder, bench.corpus, progress=False)
    query_ids = list(bench.queries)
    run = SparseRetriever(docs, doc_ids).search(
        encoder.encode_queries([bench.queries[q] for q in query_ids]), query_ids
    )
    return round(evaluate(bench.qrels, run).summary["ndcg@10"], 4)


def bm25_ndcg(bench: Benchmark, k1: float, b: float) -> float:
    return round(
        evaluate(bench.qrels, BM25Kiwi(bench.corpus, k1=k1, b=b).search(bench.queries, 100)).summary["ndcg@10"], 4
    )


def statistics_shift(model: Path, benchmarks: Path, seed: int, bm25: Bm25Params) -> dict[str, dict]:
    """Leave one corpus out: shipped, fitted to the other corpus, to the target, to half the target."""
    benches = {name: load_benchmark(benchmarks / name, "test") for name in ("korquad", "msmarco-ko")}
    msmarco_ids = set(benches["msmarco-ko"].corpus)
    own_documents = {  # each corpus without the other's documents (korquad's corpus holds msmarco's as distractors)
        "korquad": {i: d for i, d in benches["korquad"].corpus.items() if i not in msmarco_ids},
        "msmarco-ko": benches["msmarco-ko"].corpus,
    }
    rows: dict[str, dict] = {}
    for target, other in (("msmarco-ko", "korquad"), ("korquad", "msmarco-ko")):
        bench = benches[target]
        row: dict[str, float] = {"bm25_kiwi": bm25_ndcg(bench, bm25.k1, bm25.b)}
        row["as_shipped"] = ndcg(SparseEncoder.load(model).eval(), bench)
        for label, corpus in (
            (f"fitted_to_{other}_only", own_documents[other]),
            ("fitted_to_target", bench.corpus),
            ("fitted_to_half_of_target", half(bench.corpus, seed)),
        ):
            encoder = SparseEncoder.load(model).eval()
            fit_to_corpus(encoder, corpus)
            row[label] = ndcg(encoder, bench)
        rows[target] = row
        print(target, row)
    return rows


def half(corpus: Mapping[str, Mapping[str, str]], seed: int) -> dict[str, Mapping[str, str]]:
    ids = sorted(corpus)
    kept = set(random.Random(seed).sample(ids, len(ids) // 2))
    return {i: corpus[i] for i in ids if i in kept}


def articles(bench: Benchmark) -> Benchmark:
    """korquad with each article's paragraphs joined into one document (the article's questions point at it)."""
    by_title: dict[str, list[str]] = defaultdict(list)
    for doc_id, document in bench.corpus.items():
        if doc_id.startswith("kq-"):
            by_title[document["title"]].append(doc_id)
    corpus: dict[str, dict[str, str]] = {}
    article_of: dict[str, str] = {}
    for number, (title, ids) in enumerate(sorted(by_title.items())):
        article = f"article{number}"
        corpus[article] = {"title": title, "text": "\n".join(bench.corpus[i]["text"] for i in ids)}
        article_of.update(dict.fromkeys(ids, article))
    corpus.update({i: d for i, d in bench.corpus.items() if i not in article_of})
    qrels = {q: {article_of.get(d, d): s for d, s in judged.items()} for q, judged in bench.qrels.items()}
    return Benchmark(corpus, bench.queries, qrels)


def long_documents(model: Path, benchmarks: Path) -> dict[str, object]:
    """Cut at 512 tokens, whole, max-pooled passages, best passage: on korquad articles, statistics fitted."""
    bench = articles(load_benchmark(benchmarks / "korquad", "test"))
    encoder = SparseEncoder.load(model).eval()
    fit_to_corpus(encoder, bench.corpus)
    lengths = [len(encoder.tokenizer(document_text(d))["input_ids"]) for d in bench.corpus.values()]
    row: dict[str, object] = {
        "documents": len(bench.corpus),
        "longer_than_512_tokens": sum(length > ML_COMMONS_WINDOW for length in lengths),
        "queries": len(bench.queries),
        "bm25_kiwi_whole": bm25_ndcg(bench, encoder.settings.k1, encoder.settings.b),
    }
    ways = {
        "cut_at_512": {"max_length": ML_COMMONS_WINDOW, "passage_overlap": None},
        "whole": {"max_length": None, "passage_overlap": None},
        "passages_max_pooled": {"max_length": ML_COMMONS_WINDOW, "passage_overlap": PASSAGE_OVERLAP},
    }
    for label, settings in ways.items():
        encoder.settings = replace(encoder.settings, **settings)
        row[label] = ndcg(encoder, bench)
    doc_ids, owners, texts = list(bench.corpus), [], []
    for doc_id in doc_ids:
        for passage in encoder.passages(document_text(bench.corpus[doc_id])):
            owners.append(doc_id)
            texts.append(passage)
    query_ids = list(bench.queries)
    queries = encoder.encode_queries([bench.queries[q] for q in query_ids])
    vectors = encoder.encode_documents(texts)
    passage_run = SparseRetriever(vectors, [str(i) for i in range(len(texts))]).search(queries, query_ids, k=1000)
    best: dict[str, dict[str, float]] = {}
    for query_id, hits in passage_run.items():  # a document scores its best passage's score
        scores: dict[str, float] = {}
        for passage_id, score in hits.items():
            owner = owners[int(passage_id)]
            scores[owner] = max(score, scores.get(owner, 0.0))
        best[query_id] = dict(sorted(scores.items(), key=lambda item: -item[1])[:100])
    row["best_passage"] = round(evaluate(bench.qrels, best).summary["ndcg@10"], 4)
    print("long documents", row)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="v2", help="the trained variant to score (default v2)")
    args = parser.parse_args()
    params = load_params()
    paths = params.paths
    model, benchmarks = Path(paths.models) / args.variant, Path(paths.benchmarks)
    report = {
        "variant": args.variant,
        "metric": "ndcg@10, exact in-process retrieval, test split",
        "statistics": statistics_shift(model, benchmarks, params.seed, params.bm25),
        "long_documents": long_documents(model, benchmarks),
    }
    write_json(Path(paths.reports) / "domain_shift.json", report)


if __name__ == "__main__":
    main()
