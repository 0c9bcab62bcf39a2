"""Baselines that need more than the text library: BM25 with OpenSearch's nori on a live index (the
baseline users would deploy) and BM25 over a model's own vocabulary (the floor the model starts from)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from opensearchpy import OpenSearch
from tqdm import tqdm
from transformers import AutoTokenizer

from nsparse.data import Benchmark
from nsparse.eval.baselines import Run, System, bm25_kiwi_system, corpus_fingerprint
from nsparse.eval.bm25 import BM25Kiwi
from nsparse.model.vocabulary import load_stop_pieces
from nsparse.opensearch import index as os_index
from nsparse.opensearch import search
from nsparse.opensearch.client import connect
from nsparse.opensearch.index import corpus_index_name, index_is_current, with_build_record


def ensure_bm25_index(client: OpenSearch, index_prefix: str, corpus: dict[str, dict[str, str]]) -> str:
    """The name of a nori-analysed BM25 index of `corpus`, created and filled unless an identical one exists."""
    fingerprint = corpus_fingerprint(corpus)
    index_name = corpus_index_name(index_prefix, "bm25", fingerprint)
    meta = {"corpus_fingerprint": fingerprint, "documents": len(corpus)}
    if not index_is_current(client, index_name, meta):
        os_index.create_index(client, index_name, with_build_record(os_index.text_index_body(), meta), replace=True)
        os_index.bulk_index(client, index_name, ({"_id": i, **doc} for i, doc in corpus.items()))
    return index_name


def bm25_nori_system(client: OpenSearch, index_prefix: str) -> System:
    """BM25 (nori) over title and text through the live node, as a baselines system: one index per distinct corpus."""

    def run(name: str, benchmark: Benchmark, depth: int) -> Run:
        index_name = ensure_bm25_index(client, index_prefix, benchmark.corpus)
        return {
            qid: dict(search.bm25(client, index_name, text, depth))
            for qid, text in tqdm(benchmark.queries.items(), desc=f"bm25_nori {name}", unit="q", leave=False)
        }

    return run


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

    indexes: dict[str, BM25Kiwi] = {}

    def search_run(name: str, benchmark: Benchmark, depth: int) -> Run:
        fingerprint = corpus_fingerprint(benchmark.corpus)
        if fingerprint not in indexes:
            indexes[fingerprint] = BM25Kiwi(benchmark.corpus, k1=k1, b=b, analyzer=analyzer, distinct_query_terms=True)
        return indexes[fingerprint].search(benchmark.queries, k=depth)

    return search_run


def make_systems(names: list[str], bm25: dict[str, float], base_model: str, index_prefix: str) -> dict[str, System]:
    """The run function of every system named in `baselines.systems`, all with the pipeline's one BM25 (`bm25`)."""
    factories = {
        "bm25_kiwi": lambda: bm25_kiwi_system(**bm25),
        "bm25_nori": lambda: bm25_nori_system(connect(), index_prefix),
        "bm25_vocab": lambda: bm25_vocab_system(base_model, **bm25),
    }
    unknown = set(names) - factories.keys()
    if unknown:
        raise KeyError(f"params.yaml baselines.systems: unknown systems {sorted(unknown)} (known: {sorted(factories)})")
    return {name: factories[name]() for name in names}
