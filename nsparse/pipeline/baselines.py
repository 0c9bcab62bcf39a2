"""The baselines stage's systems: BM25 with OpenSearch's nori on a live index (the baseline users would
deploy, with Lucene's k1/b and with k1/b chosen on the dev splits), and in-process BM25 (`bm25_system`)
over kiwi morphemes and over a model's own vocabulary (the floor the model starts from), each corpus
indexed once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from opensearchpy import OpenSearch
from tqdm import tqdm
from transformers import AutoTokenizer

from nsparse.data import Benchmark
from nsparse.eval.baselines import Run, System, corpus_fingerprint
from nsparse.eval.bm25 import Analyzer, BM25Kiwi
from nsparse.eval.metrics import evaluate
from nsparse.io import DataFormatError, read_json
from nsparse.model.vocabulary import load_stop_pieces
from nsparse.opensearch import index as os_index
from nsparse.opensearch import search
from nsparse.opensearch.client import connect
from nsparse.opensearch.index import BM25Similarity, corpus_index_name, index_is_current, with_build_record
from nsparse.params import Bm25Params
from nsparse.pipeline.baselines_report import NORI_TUNING


def ensure_bm25_index(
    client: OpenSearch, index_prefix: str, corpus: dict[str, dict[str, str]], similarity: BM25Similarity | None = None
) -> str:
    """The name of a nori-analysed BM25 index of `corpus`, created and filled unless an identical one exists.

    Without `similarity` it is the `bm25` index (Lucene's k1/b); with one, the `bm25tuned`
    index, whose build record holds its k1/b: one built from the same corpus with other k1/b
    is re-parameterised in place (`set_bm25_similarity`), never searched with stale ones.
    """
    fingerprint = corpus_fingerprint(corpus)
    meta: dict[str, Any] = {"corpus_fingerprint": fingerprint, "documents": len(corpus)}
    if similarity is None:
        index_name = corpus_index_name(index_prefix, "bm25", fingerprint)
    else:
        index_name = corpus_index_name(index_prefix, "bm25tuned", fingerprint)
        built = {**meta, "similarity": recorded_similarity(client, index_name)}
        meta["similarity"] = asdict(similarity)
        if built["similarity"] not in (None, meta["similarity"]) and index_is_current(client, index_name, built):
            os_index.set_bm25_similarity(client, index_name, similarity, meta)
    if not index_is_current(client, index_name, meta):
        body = with_build_record(os_index.text_index_body(similarity), meta)
        os_index.create_index(client, index_name, body, replace=True)
        os_index.bulk_index(client, index_name, ({"_id": i, **doc} for i, doc in corpus.items()))
    return index_name


def recorded_similarity(client: OpenSearch, index_name: str) -> dict[str, float] | None:
    """The k1/b in an index's build record; None when the index or the record is missing."""
    if not client.indices.exists(index=index_name):
        return None
    mapping = client.indices.get_mapping(index=index_name)[index_name]["mappings"]
    return mapping.get("_meta", {}).get("nsparse", {}).get("similarity")


def bm25_nori_system(client: OpenSearch, index_prefix: str, similarity: BM25Similarity | None = None) -> System:
    """BM25 (nori) over title and text through the live node, as a baselines system: one index per distinct corpus."""

    def run(name: str, benchmark: Benchmark, depth: int) -> Run:
        index_name = ensure_bm25_index(client, index_prefix, benchmark.corpus, similarity)
        return {
            qid: dict(search.bm25(client, index_name, text, depth))
            for qid, text in tqdm(benchmark.queries.items(), desc=f"bm25_nori {name}", unit="q", leave=False)
        }

    return run


def choose_nori_similarity(
    client: OpenSearch, index_prefix: str, dev: dict[str, Benchmark], k1s: list[float], bs: list[float], depth: int
) -> dict[str, Any]:
    """nori's k1 and b: the candidate with the best mean nDCG@10 over all queries of the dev splits (never test).

    As the floor's k1/b were chosen for it, so a comparison against nori is against the best
    BM25 an OpenSearch user can configure. Every candidate scores the same `bm25tuned` index
    of each corpus, re-parameterised in place; ties go to the candidate listed first. The
    record (the choice and the dev grid) is what reports/baselines.json keeps under `NORI_TUNING`.
    """

    def dev_ndcg(similarity: BM25Similarity) -> list[float]:
        system = bm25_nori_system(client, index_prefix, similarity)
        runs = {name: system(f"{name}/dev {similarity}", bench, depth) for name, bench in dev.items()}
        return [
            score
            for name, run in runs.items()
            for score in evaluate(dev[name].qrels, run).per_query["ndcg@10"].values()
        ]

    scores = {similarity: dev_ndcg(similarity) for similarity in (BM25Similarity(k1, b) for k1 in k1s for b in bs)}
    means = {similarity: float(np.mean(values)) for similarity, values in scores.items()}
    chosen = max(means, key=means.__getitem__)
    grid: dict[str, dict[str, float]] = {}
    for similarity, mean in means.items():
        grid.setdefault(str(similarity.k1), {})[str(similarity.b)] = round(mean, 4)
    return {**asdict(chosen), "dev_benchmarks": list(dev), "dev_queries": len(scores[chosen]), "dev_ndcg@10": grid}


def chosen_nori_similarity(baselines_json: Path) -> BM25Similarity:
    """The k1/b the baselines stage chose for nori, as reports/baselines.json records it."""
    record = read_json(baselines_json).get(NORI_TUNING)
    if record is None:
        raise DataFormatError(baselines_json, None, f"no {NORI_TUNING!r} (nori's k1/b): rerun the baselines stage")
    return BM25Similarity(record["k1"], record["b"])


def bm25_vocab_system(model: str, k1: float, b: float) -> System:
    """BM25 over the tokens of a model's own tokenizer, stop pieces and special tokens left out.

    With distinct query tokens this is exactly what the untrained lexical floor of an
    encoder on that tokenizer scores, so it is the floor training starts from.
    """
    tokenizer = AutoTokenizer.from_pretrained(model)
    silent = set(load_stop_pieces(model)) | set(tokenizer.all_special_tokens)

    def analyzer(texts: Iterable[str]) -> Iterator[list[str]]:
        for text in texts:
            yield [token for token in tokenizer.tokenize(text) if token not in silent]

    return bm25_system(k1, b, analyzer=analyzer, distinct_query_terms=True)


def bm25_system(k1: float, b: float, analyzer: Analyzer | None = None, distinct_query_terms: bool = False) -> System:
    """In-process BM25 (`BM25Kiwi`: kiwi morphemes unless another `analyzer` is given) as a baselines system; each
    distinct corpus is indexed once, however many benchmarks share it."""
    options = {"analyzer": analyzer} if analyzer is not None else {}
    indexes: dict[str, BM25Kiwi] = {}

    def search_run(name: str, benchmark: Benchmark, depth: int) -> Run:
        fingerprint = corpus_fingerprint(benchmark.corpus)
        if fingerprint not in indexes:
            indexes[fingerprint] = BM25Kiwi(
                benchmark.corpus, k1=k1, b=b, distinct_query_terms=distinct_query_terms, **options
            )
        return indexes[fingerprint].search(benchmark.queries, k=depth)

    return search_run


def make_systems(
    names: list[str], bm25: Bm25Params, base_model: str, index_prefix: str, nori_tuned: BM25Similarity
) -> dict[str, System]:
    """The run function of every system named in `baselines.systems`.

    The in-process ones use the pipeline's one BM25 (`bm25`). nori runs with Lucene's own
    k1/b on purpose (`bm25_nori`: stock nori, the reference row an OpenSearch user gets
    without tuning) and with those chosen for it on dev (`bm25_nori_tuned`); params.yaml's
    `bm25` is the floor's BM25 and never reaches nori.
    """
    factories = {
        "bm25_kiwi": lambda: bm25_system(bm25.k1, bm25.b),
        "bm25_nori": lambda: bm25_nori_system(connect(), index_prefix),
        "bm25_nori_tuned": lambda: bm25_nori_system(connect(), index_prefix, nori_tuned),
        "bm25_vocab": lambda: bm25_vocab_system(base_model, bm25.k1, bm25.b),
    }
    unknown = set(names) - factories.keys()
    if unknown:
        raise KeyError(f"params.yaml baselines.systems: unknown systems {sorted(unknown)} (known: {sorted(factories)})")
    return {name: factories[name]() for name in names}
