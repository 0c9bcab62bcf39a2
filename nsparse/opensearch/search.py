"""Queries as nsparse runs them: each returns `[(doc_id, score), ...]` in rank order."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from opensearchpy import OpenSearch

from nsparse.opensearch.client import refused_as

Ranking = list[tuple[str, float]]


def search(
    client: OpenSearch, index: str, query: dict[str, Any], k: int, search_pipeline: str | None = None
) -> Ranking:
    """Run one query clause and return the top `k` ids with scores (sources are not fetched)."""
    params = {"search_pipeline": search_pipeline} if search_pipeline else {}
    with refused_as(f"searching {index}"):
        response = client.search(index=index, body={"size": k, "_source": False, "query": query}, params=params)
    return [(hit["_id"], float(hit["_score"])) for hit in response["hits"]["hits"]]


def neural_sparse_tokens(client: OpenSearch, index: str, field: str, query_tokens: dict[str, float], k: int) -> Ranking:
    """neural_sparse with a query already encoded (token -> weight): the score is the dot product."""
    return search(client, index, {"neural_sparse": {field: {"query_tokens": query_tokens}}}, k)


def neural_sparse_clause(field: str, text: str, model_id: str) -> dict[str, Any]:
    """The neural_sparse clause whose query a deployed SPARSE_TOKENIZE/ENCODING model encodes on the cluster."""
    return {"neural_sparse": {field: {"query_text": text, "model_id": model_id}}}


@dataclass(frozen=True)
class SeismicQuery:
    """A SEISMIC query's `method_parameters` (neural-search's defaults).

    Only the `top_n` heaviest query tokens are searched, `k` documents are kept per
    segment, and a cluster is skipped when its summary scores below the k-th best / `heap_factor`.
    """

    k: int = 10
    top_n: int = 10
    heap_factor: float = 1.0


def neural_sparse_seismic_clause(
    field: str, query_tokens: dict[str, float], method: SeismicQuery | None = None
) -> dict[str, Any]:
    """neural_sparse over a `sparse_vector` field: approximate (SEISMIC) search; keys are vocabulary ids."""
    parameters = asdict(method or SeismicQuery())
    return {"neural_sparse": {field: {"query_tokens": query_tokens, "method_parameters": parameters}}}


def match_clause(field: str, text: str) -> dict[str, Any]:
    """The BM25 clause over `field` with the field's own analyzer (nori for Korean text)."""
    return {"match": {field: text}}


def neural_sparse_model(client: OpenSearch, index: str, field: str, text: str, model_id: str, k: int) -> Ranking:
    """neural_sparse with the query encoded on the cluster by a deployed SPARSE_TOKENIZE/ENCODING model."""
    return search(client, index, neural_sparse_clause(field, text, model_id), k)


def match(client: OpenSearch, index: str, field: str, text: str, k: int) -> Ranking:
    """BM25 over `field` with the field's own analyzer (nori for Korean text)."""
    return search(client, index, match_clause(field, text), k)


def hybrid(client: OpenSearch, index: str, queries: list[dict[str, Any]], k: int, search_pipeline: str) -> Ranking:
    """A hybrid query whose sub-query scores are normalised and combined by `search_pipeline`."""
    return search(client, index, {"hybrid": {"queries": queries}}, k, search_pipeline=search_pipeline)
