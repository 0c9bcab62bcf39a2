"""BM25 with OpenSearch's Korean analyzer (nori) on a live index: the baseline users would deploy."""

from __future__ import annotations

from opensearchpy import OpenSearch
from tqdm import tqdm

from nsparse.data import Benchmark
from nsparse.eval.baselines import Run, System, corpus_fingerprint
from nsparse.opensearch import index as os_index
from nsparse.opensearch.index import corpus_index_name, index_is_current, with_build_record
from nsparse.opensearch import search


def ensure_bm25_index(client: OpenSearch, index_prefix: str, corpus: dict[str, dict[str, str]]) -> str:
    """The name of a nori-analysed BM25 index of `corpus`, created and filled unless an identical one exists."""
    fingerprint = corpus_fingerprint(corpus)
    index_name = corpus_index_name(index_prefix, "bm25", fingerprint)
    meta = {"corpus_fingerprint": fingerprint, "documents": len(corpus)}
    if not index_is_current(client, index_name, meta):
        os_index.create_index(client, index_name, with_build_record(os_index.load_body("bm25_nori_index"), meta), replace=True)
        os_index.bulk_index(client, index_name, ({"_id": i, **doc} for i, doc in corpus.items()))
    return index_name


def bm25_nori_system(client: OpenSearch, index_prefix: str) -> System:
    """BM25 (nori) through the live node, as a baselines system: one index per distinct corpus."""

    def run(name: str, benchmark: Benchmark, depth: int) -> Run:
        index_name = ensure_bm25_index(client, index_prefix, benchmark.corpus)
        return {
            qid: dict(search.match(client, index_name, "text", text, depth))
            for qid, text in tqdm(benchmark.queries.items(), desc=f"bm25_nori {name}", unit="q", leave=False)
        }

    return run
