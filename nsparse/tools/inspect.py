"""Look inside a sparse model and a deployed index: token weights, score break-downs, live hits.

`nsparse encode`, `nsparse explain` and `nsparse search` print what these return. A term
is *present* when the tokenizer finds it in the text itself, and an *expansion* term
otherwise: a weight the model added (a synonym, a translation, a related word).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from opensearchpy import OpenSearch

from nsparse.io import read_json
from nsparse.opensearch import index as os_index
from nsparse.opensearch import ml, search
from nsparse.opensearch.client import refused_as
from nsparse.tools.inputs import InputError

if TYPE_CHECKING:  # `nsparse search` needs no model: torch is not imported for it
    import scipy.sparse as sp

    from nsparse.model.encoder import SparseEncoder

Side = Literal["document", "query"]


@dataclass(frozen=True)
class Term:
    token: str
    weight: float
    present: bool  # the tokenizer finds the token in the text; False: an expansion term


@dataclass(frozen=True)
class Match:
    token: str
    query_weight: float
    doc_weight: float
    in_query: bool | None  # the token occurs in the query text (None: not known, e.g. for live hits)
    in_doc: bool | None

    @property
    def contribution(self) -> float:
        return self.query_weight * self.doc_weight


@dataclass(frozen=True)
class Explanation:
    query_terms: list[Term]
    doc_terms: list[Term]
    matches: list[Match]  # largest contribution first

    @property
    def score(self) -> float:
        return sum(match.contribution for match in self.matches)


def text_token_ids(encoder: SparseEncoder, text: str) -> set[int]:
    """Ids of the tokens the tokenizer finds in `text` (the whole text, not only what fits the model)."""
    return set(encoder.tokenizer(text)["input_ids"])


def _vector(encoder: SparseEncoder, text: str, side: Side) -> sp.csr_matrix:
    return encoder.encode_queries([text]) if side == "query" else encoder.encode_documents([text])


def terms(encoder: SparseEncoder, text: str, side: Side) -> list[Term]:
    """The side's non-zero weights of `text`, heaviest first, each marked present or expansion."""
    present = text_token_ids(encoder, text)
    token_ids = encoder.tokenizer.get_vocab()
    return [
        Term(token, weight, token_ids.get(token) in present)
        for token, weight in encoder.to_token_weights(_vector(encoder, text, side)[0]).items()
    ]


def explain(encoder: SparseEncoder, query: str, doc: str) -> Explanation:
    """Both sides' weights and the score q·d broken down into the terms they share."""
    query_terms, doc_terms = terms(encoder, query, "query"), terms(encoder, doc, "document")
    doc_by_token = {term.token: term for term in doc_terms}
    matches = [
        Match(q.token, q.weight, doc_by_token[q.token].weight, q.present, doc_by_token[q.token].present)
        for q in query_terms
        if q.token in doc_by_token
    ]
    matches.sort(key=lambda match: -match.contribution)
    return Explanation(query_terms, doc_terms, matches)


# --- the live index ------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """Where `nsparse search` sends a query: an index and the query model that encodes it."""

    index: str
    model_id: str


def deployed_target(deploy_dir: Path, variant: str, benchmark: str | None = None) -> Target:
    """The index and query model deploy recorded for a variant (`deploy/<variant>/deployment.json`).

    Without `benchmark`, the own corpus (`own`, `own-synthetic`) when deployed, else the
    first benchmark's index. The record is read as JSON (its documented contract), so a
    search loads no model code.
    """
    record = deploy_dir / variant / "deployment.json"
    if not record.is_file():
        raise InputError(
            f"{record}: not found; deploy {variant!r} first (dvc repro deploy@{variant}) "
            "or name the index with --index and --model-id"
        )
    deployment = read_json(record)
    indices: dict[str, str] = deployment.get("indices") or {}
    if not deployment.get("complete", True) or not indices:
        raise InputError(f"{record}: deploy of {variant!r} did not finish; rerun it (dvc repro deploy@{variant})")
    if benchmark is None:
        benchmark = next((name for name in indices if name.startswith("own")), next(iter(indices)))
    if benchmark not in indices:
        raise InputError(f"{record}: no index for {benchmark!r} (deployed: {', '.join(indices)})")
    # Each corpus has its own query model (its IDF); a record from before per-corpus models has one for all.
    corpus = (deployment.get("corpus_of") or {}).get(benchmark)
    model_id = (deployment.get("corpora") or {}).get(corpus, {}).get("query_model_id") or deployment.get(
        "query_model_id"
    )
    if not model_id:
        raise InputError(f"{record}: deploy of {variant!r} did not finish; rerun it (dvc repro deploy@{variant})")
    return Target(indices[benchmark], model_id)


def sparse_field(client: OpenSearch, index: str) -> str:
    """The index's `rank_features` field (nsparse's is `sparse`; any cluster's index may name it otherwise)."""
    with refused_as(f"reading the mapping of {index}"):
        mappings = client.indices.get_mapping(index=index)
    fields = [
        name
        for mapping in mappings.values()
        for name, spec in mapping["mappings"].get("properties", {}).items()
        if spec.get("type") == "rank_features"
    ]
    if not fields:
        raise InputError(f"{index}: no rank_features field, so no neural sparse search")
    return "sparse" if "sparse" in fields else fields[0]


@dataclass(frozen=True)
class Hit:
    doc_id: str
    score: float
    title: str
    text: str
    matches: list[Match]  # query terms the document's stored vector shares, largest contribution first


def ensure_hybrid_pipeline(client: OpenSearch, name: str, bm25_weight: float = 0.5) -> bool:
    """Create the hybrid search pipeline (min-max normalisation, weighted mean) unless it exists; True if created.

    The benchmark stage writes it with the BM25 weight it chose on the dev splits; without one, equal weights.
    """
    with refused_as(f"reading search pipeline {name}"):
        existing = client.transport.perform_request("GET", "/_search/pipeline", params={"ignore": 404}) or {}
    if name in existing:
        return False
    os_index.put_hybrid_pipeline(client, name, bm25_weight)
    return True


def search_index(
    client: OpenSearch, target: Target, query: str, k: int = 10, hybrid_pipeline: str | None = None
) -> list[Hit]:
    """The top `k` hits of `query` (neural sparse, or BM25 + neural sparse through `hybrid_pipeline`).

    Matched terms come from the query model's own token weights and the vectors the index
    stores (read back from the `rank_features` field), so they add up to the neural part of
    each score, to the index's storage precision (9 significant bits of a weight: within 0.4%).
    """
    field = sparse_field(client, target.index)
    if hybrid_pipeline:
        clauses = [search.bm25_clause(query), search.neural_sparse_clause(field, query, target.model_id)]
        ranking = search.hybrid(client, target.index, clauses, k, hybrid_pipeline)
    else:
        ranking = search.neural_sparse_model(client, target.index, field, query, target.model_id, k)
    if not ranking:
        return []
    (query_weights,) = ml.predict_sparse(client, target.model_id, [query])
    doc_ids = [doc_id for doc_id, _ in ranking]
    with refused_as(f"reading hits from {target.index}"):
        docs = client.mget(index=target.index, body={"ids": doc_ids}, _source_includes=["title", "text"])["docs"]
    sources = {doc["_id"]: doc.get("_source", {}) for doc in docs}
    stored = search.stored_token_weights(
        client, target.index, field, doc_ids, [token for token, weight in query_weights.items() if weight > 0]
    )
    hits = []
    for doc_id, score in ranking:
        source = sources.get(doc_id, {})
        matches = sorted(
            (Match(token, float(query_weights[token]), weight, None, None) for token, weight in stored[doc_id].items()),
            key=lambda match: -match.contribution,
        )
        hits.append(Hit(doc_id, score, source.get("title", ""), source.get("text", ""), matches))
    return hits
