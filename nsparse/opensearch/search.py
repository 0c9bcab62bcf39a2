"""Queries as nsparse runs them: each returns `[(doc_id, score), ...]` in rank order."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from opensearchpy import OpenSearch

from nsparse.korean import has_hangul
from nsparse.opensearch.client import OpenSearchError, refused_as

Ranking = list[tuple[str, float]]

log = logging.getLogger(__name__)


SEARCH_ATTEMPTS = 3


def complete_search(
    client: OpenSearch, index: str, body: dict[str, Any], params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A search response in which every shard answered.

    A node that dies while a query runs can leave that query with failed shards (its
    fetch phase is not moved to a replica), or with all of them failed, which OpenSearch
    answers with HTTP 500; asked again a moment later, the replicas answer for it. So a
    partial answer or a server-side (5xx) failure is retried, and after the last attempt
    it is an error naming the failed shards, never a silently incomplete ranking. A
    refused query (4xx) is the caller's fault and fails at once.
    """
    for attempt in range(SEARCH_ATTEMPTS):
        last = attempt == SEARCH_ATTEMPTS - 1
        try:
            with refused_as(f"searching {index}"):
                response = client.search(index=index, body=body, params=params or {})
        except OpenSearchError as err:
            if last or err.status_code is None or err.status_code < 500:
                raise
            failure = str(err)
        else:
            shards = response.get("_shards", {})
            if not shards.get("failed") and not response.get("timed_out"):
                return response
            failure = f"searching {index}: {shards.get('failed')} of {shards.get('total')} shards did not answer"
            if last:
                raise OpenSearchError(f"{failure} after {SEARCH_ATTEMPTS} attempts: {shards.get('failures')}")
        log.warning("%s; asking again", failure)
        time.sleep(0.25 * 2**attempt)
    raise AssertionError("unreachable: the last attempt returns or raises")


def search(
    client: OpenSearch, index: str, query: dict[str, Any], k: int, search_pipeline: str | None = None
) -> Ranking:
    """Run one query clause and return the top `k` ids with scores (sources are not fetched)."""
    params = {"search_pipeline": search_pipeline} if search_pipeline else {}
    response = complete_search(client, index, {"size": k, "_source": False, "query": query}, params)
    return [(hit["_id"], float(hit["_score"])) for hit in response["hits"]["hits"]]


def neural_sparse_tokens(client: OpenSearch, index: str, field: str, query_tokens: dict[str, float], k: int) -> Ranking:
    """neural_sparse with a query already encoded (token -> weight): the score is the dot product."""
    return search(client, index, {"neural_sparse": {field: {"query_tokens": query_tokens}}}, k)


def stored_token_weights(
    client: OpenSearch, index: str, field: str, doc_ids: list[str], tokens: list[str]
) -> dict[str, dict[str, float]]:
    """{doc id: {token: weight}} as `field` stores it, for the given documents and tokens.

    The vectors are not in `_source`, so each token is read back from the `rank_features`
    field itself: a neural_sparse query of that one token with weight 1 scores each document
    by its stored weight (9 significant bits). One `_msearch` asks for all tokens at once.
    """
    if not doc_ids or not tokens:
        return {doc_id: {} for doc_id in doc_ids}
    body: list[dict[str, Any]] = []
    for token in tokens:
        query = {
            "bool": {
                "must": {"neural_sparse": {field: {"query_tokens": {token: 1.0}}}},
                "filter": {"ids": {"values": doc_ids}},
            }
        }
        body += [{"index": index}, {"size": len(doc_ids), "_source": False, "query": query}]
    with refused_as(f"reading stored weights from {index}"):
        responses = client.msearch(body=body)["responses"]
    weights: dict[str, dict[str, float]] = {doc_id: {} for doc_id in doc_ids}
    for token, response in zip(tokens, responses, strict=True):
        if "error" in response:
            raise OpenSearchError(f"reading stored weights from {index}: token {token!r}: {response['error']}")
        for hit in response["hits"]["hits"]:
            weights[hit["_id"]][token] = float(hit["_score"])
    return weights


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


HYBRID_QUERY_GROUPS = ("hangul", "no_hangul")


def hybrid_query_group(text: str) -> str:
    """The hybrid pipeline group of a query: with Hangul in it, or without.

    BM25 over nori-analysed Korean documents can only help a query that has Korean words
    (code-switched ones included); for an English query it matches little beyond names
    and numbers, so each group gets its own BM25 weight.
    """
    return "hangul" if has_hangul(text) else "no_hangul"


def hybrid_pipeline_name(base: str, group: str) -> str:
    """The search pipeline of a query group: `base` for queries with Hangul, `base-no-hangul` for the others."""
    if group not in HYBRID_QUERY_GROUPS:
        raise ValueError(f"unknown hybrid query group {group!r} (expected one of {HYBRID_QUERY_GROUPS})")
    return base if group == "hangul" else f"{base}-{group.replace('_', '-')}"


BM25_FIELDS = ("title", "text")  # what the document model reads too


def bm25_clause(text: str) -> dict[str, Any]:
    """BM25 as an OpenSearch user would query our documents: title and text, each with its own analyzer (nori).

    `cross_fields` scores the fields as if they were one (both use the same analyzer): a
    query term counts once, in the field where it scores best, with its document frequency
    blended over both, so a term that is rare among titles gets no inflated weight there.
    """
    return {"multi_match": {"query": text, "type": "cross_fields", "fields": list(BM25_FIELDS)}}


def bm25(client: OpenSearch, index: str, text: str, k: int) -> Ranking:
    """BM25 over title and text (`bm25_clause`): the baseline users would deploy."""
    return search(client, index, bm25_clause(text), k)


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
    """A hybrid query whose sub-query scores are normalised and combined by `search_pipeline`.

    Pass `hybrid_pipeline_name(base, hybrid_query_group(text))` to use the weight of the query's group.
    """
    return search(client, index, {"hybrid": {"queries": queries}}, k, search_pipeline=search_pipeline)
