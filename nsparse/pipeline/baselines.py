"""BM25 with OpenSearch's Korean analyzer (nori) on a live index: the baseline users would deploy."""

from __future__ import annotations

from pathlib import Path

from opensearchpy import OpenSearch
from tqdm import tqdm

from nsparse.data import read_corpus
from nsparse.opensearch import index as os_index
from nsparse.opensearch import ml, search
from nsparse.pipeline.deploy import index_is_current, with_build_record


def ensure_bm25_index(client: OpenSearch, index_name: str, corpus_file: Path) -> str:
    """Create and fill a nori-analysed BM25 index for a corpus unless an identical one exists."""
    corpus = read_corpus(corpus_file)
    meta = {"corpus_sha256": ml.sha256_of(corpus_file), "documents": len(corpus)}
    if not index_is_current(client, index_name, meta):
        os_index.create_index(client, index_name, with_build_record(os_index.load_body("bm25_nori_index"), meta), replace=True)
        os_index.bulk_index(client, index_name, ({"_id": i, **doc} for i, doc in corpus.items()))
    return index_name


def bm25_nori_run(client: OpenSearch, index_name: str, queries: dict[str, str], k: int) -> dict[str, dict[str, float]]:
    """Top-k BM25 (nori) results for every query: {query id: {doc id: score}}."""
    return {
        qid: dict(search.match(client, index_name, "text", text, k))
        for qid, text in tqdm(queries.items(), desc=f"bm25_nori {index_name}", unit="q", leave=False)
    }
