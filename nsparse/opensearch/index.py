"""Indices and pipelines: create, fill, measure, delete.

Index bodies and pipeline definitions live as JSON under `opensearch/mappings/`
(`load_body`), so deploy, benchmark and the tests all build the same indices.
"""

from __future__ import annotations

import copy
import json
import string
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import TransportError
from tqdm import tqdm

from nsparse.faults import UserFault
from nsparse.opensearch.client import OpenSearchError, refused_as
from nsparse.opensearch.resources import assets_dir

MAPPINGS_DIR = assets_dir() / "mappings"


SPARSE_FIELD = "sparse"  # the rank_features field holding each document's token weights
PASSAGE_FIELD = "passage"  # title and text joined: what the document model encodes (neither indexed nor stored)
SPARSE_VECTOR_MIN_VERSION = (3, 3)  # neural-search's `sparse_vector` field (SEISMIC) arrived in OpenSearch 3.3


@dataclass(frozen=True)
class BM25Similarity:
    """BM25's term-frequency saturation `k1` and length normalisation `b`, as an index's default similarity."""

    k1: float
    b: float

    def settings(self) -> dict[str, Any]:
        """The index settings (under `index`) that make every field score with these k1 and b."""
        return {"similarity": {"default": {"type": "BM25", "k1": self.k1, "b": self.b}}}


def text_index_body(similarity: BM25Similarity | None = None) -> dict[str, Any]:
    """An index of `title` and `text` analysed by nori: the BM25 baseline's index, and the base of the sparse one.

    Without `similarity` it scores with Lucene's BM25 defaults (k1 1.2, b 0.75).
    """
    body = load_body("text_index")
    if similarity is not None:
        body["settings"]["index"].update(similarity.settings())
    return body


def sparse_index_body() -> dict[str, Any]:
    """The text index plus the sparse vectors (`rank_features`) and the model's input: one index serves neural
    sparse, BM25 and hybrid queries.

    Neither the input nor the vectors are kept in `_source`: the vectors would more than double
    the index (about 90 weighted tokens per document as JSON), and `rank_features` already holds
    them for scoring; `nsparse.opensearch.search.stored_token_weights` reads them back from there.
    OpenSearch still keeps them in its recovery source until a merge after the retention lease,
    so that replicas can recover (see `settled_index_size_bytes`).
    """
    body = text_index_body()
    body["mappings"]["_source"] = {"excludes": [PASSAGE_FIELD, SPARSE_FIELD]}
    body["mappings"]["properties"].update(
        {PASSAGE_FIELD: {"type": "text", "index": False}, SPARSE_FIELD: {"type": "rank_features"}}
    )
    return body


def rank_features_precision(values: np.ndarray) -> np.ndarray:
    """Weights as a `rank_features` field stores them: Lucene's FeatureField keeps 9 significant bits
    (`floatToIntBits >>> 15`), truncating the rest."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32) >> np.uint32(15) << np.uint32(15)
    return bits.view(np.float32)


@dataclass(frozen=True)
class SeismicMethod:
    """The `seismic` method of a `sparse_vector` field; None leaves a parameter at neural-search's default.

    Segments with fewer than `approximate_threshold` documents (default 1,000,000) are searched
    exactly; larger ones are clustered when a flush or merge writes them. Weights are stored
    as one byte: clipped at `quantization_ceiling_ingest` (default 3.0) for documents and
    `quantization_ceiling_search` (default 16.0) for queries, so ceilings near the largest
    real weight keep the most precision.
    """

    n_postings: int | None = None  # documents kept per posting list (default: 0.0005 x segment documents)
    cluster_ratio: float | None = None  # clusters per posting list, as a share of its documents (default 0.1)
    summary_prune_ratio: float | None = None  # share of a cluster summary's weight kept (default 0.4)
    approximate_threshold: int | None = None
    quantization_ceiling_ingest: float | None = None
    quantization_ceiling_search: float | None = None

    def mapping(self) -> dict[str, Any]:
        """The field mapping: `{"type": "sparse_vector", "method": {"name": "seismic", "parameters": ...}}`."""
        parameters = {name: value for name, value in asdict(self).items() if value is not None}
        return {"type": "sparse_vector", "method": {"name": "seismic", "parameters": parameters}}


def sparse_vector_index_body(method: SeismicMethod | None = None) -> dict[str, Any]:
    """`sparse_index_body()` with the sparse vectors in a SEISMIC `sparse_vector` field (OpenSearch >= 3.3).

    Needs the `index.sparse` setting, and the vectors' keys must be vocabulary ids
    (`{"1234": 0.8}`), not token strings as in `rank_features`.
    """
    body = sparse_index_body()
    body["settings"]["index"]["sparse"] = True
    body["mappings"]["properties"][SPARSE_FIELD] = (method or SeismicMethod()).mapping()
    return body


class SparseVectorUnsupported(UserFault, OpenSearchError):
    """The cluster is older than 3.3 and has no `sparse_vector` field."""


def node_version(client: OpenSearch) -> tuple[int, ...]:
    """The cluster's OpenSearch version as integers, e.g. (3, 6, 0)."""
    number = client.info()["version"]["number"]
    return tuple(int(part) for part in number.split("-")[0].split("."))


def require_sparse_vector(client: OpenSearch) -> None:
    """Refuse early, naming the fix, when the cluster cannot hold a `sparse_vector` (SEISMIC) field."""
    version = node_version(client)
    if version[:2] < SPARSE_VECTOR_MIN_VERSION:
        raise SparseVectorUnsupported(
            f"the sparse_vector field (SEISMIC) needs OpenSearch >= 3.3, but the cluster runs "
            f"{'.'.join(map(str, version))}: start a 3.x node (e.g. NSPARSE_OPENSEARCH_VERSION=3.6.0 "
            "NSPARSE_OPENSEARCH_PORT=9250 nsparse node up) or point NSPARSE_OPENSEARCH_URL at one"
        )


def load_body(name: str, **values: str) -> dict[str, Any]:
    """`opensearch/mappings/<name>.json`, with `$placeholders` (e.g. `$model_id`) filled from `values`."""
    path = MAPPINGS_DIR / f"{name}.json"
    try:
        return json.loads(string.Template(path.read_text(encoding="utf-8")).substitute(values))
    except KeyError as err:
        raise ValueError(f"{path}: needs a value for ${err.args[0]}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: line {err.lineno}: {err.msg}") from None


def with_build_record(body: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """An index body carrying what it was built from in `_meta`, so deploy can tell a stale index."""
    body.setdefault("mappings", {})["_meta"] = {"nsparse": meta}
    return body


def corpus_index_name(prefix: str, system: str, fingerprint: str) -> str:
    """`<prefix>-<system>-<corpus fingerprint>`: one index per system and distinct corpus."""
    return f"{prefix}-{system}-{fingerprint[:12]}"


def set_bm25_similarity(client: OpenSearch, name: str, similarity: BM25Similarity, meta: dict[str, Any]) -> None:
    """Score `name` with `similarity` from now on, without re-indexing, and record `meta` as its build record.

    Lucene applies k1 and b when it scores (the index keeps only each document's length),
    but OpenSearch changes a similarity only on a closed index: close, set, reopen. The
    build record is emptied first, so an interrupted change never passes `index_is_current`.
    """
    with refused_as(f"setting the BM25 similarity of {name}"):
        client.indices.put_mapping(index=name, body=with_build_record({}, {})["mappings"])
        client.indices.close(index=name)
        client.indices.put_settings(index=name, body={"index": similarity.settings()})
        client.indices.open(index=name, wait_for_active_shards="all")
        client.indices.put_mapping(index=name, body=with_build_record({}, meta)["mappings"])


def index_is_current(client: OpenSearch, name: str, meta: dict[str, Any]) -> bool:
    """True when `name` exists, was built from the same bytes, and holds every document."""
    if not client.indices.exists(index=name):
        return False
    mapping = client.indices.get_mapping(index=name)[name]["mappings"]
    if mapping.get("_meta", {}).get("nsparse") != meta:
        return False
    client.indices.refresh(index=name)
    return client.count(index=name)["count"] == meta["documents"]


def sized_for_cluster(body: dict[str, Any], data_nodes: int) -> dict[str, Any]:
    """`body` with one primary shard per data node and one replica when the cluster has several data nodes.

    Every node then holds primaries (writes and searches spread over the cluster) and a
    copy of each shard survives the loss of any one node. On a single node the body is
    returned as written (the mappings say 1 shard and 0 replicas: a replica could never be
    allocated there, and the index would stay yellow).
    """
    if data_nodes < 2:
        return body
    sized = copy.deepcopy(body)
    sized.setdefault("settings", {}).setdefault("index", {}).update(
        {"number_of_shards": data_nodes, "number_of_replicas": 1}
    )
    return sized


def data_node_count(client: OpenSearch) -> int:
    """How many data nodes the cluster has now (an external cluster's too)."""
    with refused_as("reading cluster health"):
        return int(client.cluster.health()["number_of_data_nodes"])


def create_index(client: OpenSearch, name: str, body: dict[str, Any], replace: bool = False) -> None:
    """Create `name`, sized for the cluster; an existing index is an error unless `replace` (then deleted first)."""
    if client.indices.exists(index=name):
        if not replace:
            raise OpenSearchError(f"index {name} already exists (pass replace=True to rebuild it)")
        delete_index(client, name)
    with refused_as(f"creating index {name}"):
        client.indices.create(index=name, body=sized_for_cluster(body, data_node_count(client)))


def delete_index(client: OpenSearch, name: str) -> None:
    """Delete `name` (or a wildcard pattern); missing indices are fine."""
    with refused_as(f"deleting index {name}"):
        client.indices.delete(index=name, ignore_unavailable=True)


PIPELINE_KEY = "_pipeline"


def bulk_index(
    client: OpenSearch,
    index: str,
    docs: Iterable[dict[str, Any]],
    id_field: str = "_id",
    batch_size: int = 500,
    progress: bool = True,
    refresh: bool = True,
) -> int:
    """Index `docs` (their `id_field` becomes the document id); return how many were indexed.

    A document's `_pipeline` key, when present, names the ingest pipeline it goes through instead of the
    index's default (`_none` for none: a document whose vector was computed here).

    Stops at the first failing batch with the first failed item's reason, and
    refreshes the index at the end so that the documents are searchable at once.
    """
    indexed = 0
    results = helpers.streaming_bulk(
        client, _actions(index, docs, id_field), chunk_size=batch_size, raise_on_error=False, raise_on_exception=False
    )
    for ok, item in tqdm(results, desc=f"indexing {index}", unit="doc", disable=not progress):
        if not ok:
            failure = next(iter(item.values()))
            with refused_as(f"indexing into {index}"):
                if isinstance(failure.get("exception"), TransportError):  # the whole request failed, e.g. a dead node
                    raise failure["exception"]
            raise OpenSearchError(
                f"indexing into {index}: document {failure.get('_id')!r} refused: {failure.get('error')}"
            )
        indexed += 1
    if refresh:
        with refused_as(f"refreshing {index}"):
            client.indices.refresh(index=index)
    return indexed


def _actions(index: str, docs: Iterable[dict[str, Any]], id_field: str) -> Iterator[dict[str, Any]]:
    for position, doc in enumerate(docs):
        if id_field not in doc:
            raise ValueError(f"document #{position} for {index} has no {id_field!r} field")
        source = {key: value for key, value in doc.items() if key not in (id_field, PIPELINE_KEY)}
        action = {"_index": index, "_id": str(doc[id_field]), "_source": source}
        if PIPELINE_KEY in doc:  # this document's ingest pipeline instead of the index's default ("_none": none)
            action["pipeline"] = doc[PIPELINE_KEY]
        yield action


def settled_index_size_bytes(client: OpenSearch, index: str) -> int:
    """On-disk size of the index's primary shards once merged into one segment, as a static corpus settles.

    The merge makes the figure independent of when background merges happened to run, and
    drops the recovery source that OpenSearch keeps for fields left out of `_source` until
    a commit and the shard's retention lease have passed them: hence the flush before it.
    The flush and refresh after it let go of the merged-away files, which are then deleted.
    """
    with refused_as(f"measuring {index}"):
        client.indices.flush(index=index, force=True)
        client.indices.forcemerge(index=index, max_num_segments=1, request_timeout=600)
        client.indices.flush(index=index, force=True)
        client.indices.refresh(index=index)
        stats = client.indices.stats(index=index, metric="store")
    return int(stats["_all"]["primaries"]["store"]["size_in_bytes"])


def put_ingest_pipeline(client: OpenSearch, name: str, body: dict[str, Any]) -> None:
    with refused_as(f"creating ingest pipeline {name}"):
        client.ingest.put_pipeline(id=name, body=body)


def put_search_pipeline(client: OpenSearch, name: str, body: dict[str, Any]) -> None:
    with refused_as(f"creating search pipeline {name}"):
        client.transport.perform_request("PUT", f"/_search/pipeline/{name}", body=body)


def put_hybrid_pipeline(client: OpenSearch, name: str, bm25_weight: float) -> None:
    """The hybrid search pipeline: each sub-query min-max normalised, then BM25 x w + sparse x (1 - w)."""
    body = load_body(
        "hybrid_search_pipeline", bm25_weight=str(bm25_weight), sparse_weight=str(round(1 - bm25_weight, 6))
    )
    put_search_pipeline(client, name, body)


def delete_ingest_pipeline(client: OpenSearch, name: str) -> None:
    """Delete an ingest pipeline (or a wildcard pattern); a missing one is fine."""
    with refused_as(f"deleting ingest pipeline {name}"):
        client.ingest.delete_pipeline(id=name, ignore=404)


def delete_search_pipeline(client: OpenSearch, name: str) -> None:
    with refused_as(f"deleting search pipeline {name}"):
        client.transport.perform_request("DELETE", f"/_search/pipeline/{name}", params={"ignore": 404})
