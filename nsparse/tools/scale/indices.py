"""One index per system (BM25 over nori text, v2 on rank_features, v2 on SEISMIC sparse_vector): its body, the
source of each document, its searcher, and the build (bulk load, refresh, force merge) with its timings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from opensearchpy import OpenSearch

from nsparse.opensearch import index as os_index
from nsparse.opensearch import search
from nsparse.opensearch.client import refused_as
from nsparse.opensearch.index import SPARSE_FIELD
from nsparse.tools.scale.corpus import Document, EncodedQueries
from nsparse.tools.scale.settings import ScaleParams

BUILD_TIMEOUT_S = 7200  # refresh and force merge of one index, clustering included


@dataclass
class SystemIndex:
    """How one system's index is built from documents and queried with one query."""

    body: dict[str, Any]
    source: Callable[[Document], dict[str, Any]]
    searcher: Callable[[str], search.Ranking]  # query id -> ranking


def system_indices(
    client: OpenSearch, names: dict[str, str], vocab: Sequence[str], queries: EncodedQueries, params: ScaleParams
) -> dict[str, SystemIndex]:
    """BM25 over nori text, v2 on rank_features (token keys) and v2 on sparse_vector (vocabulary id keys).

    Each index holds only its system's field, so its size on disk is that system's cost.
    """
    tokens = np.asarray(vocab, dtype=object)
    rows = {qid: queries.vectors.getrow(i) for i, qid in enumerate(queries.query_ids)}
    texts = dict(zip(queries.query_ids, queries.texts))
    by_token = {qid: dict(zip(tokens[row.indices].tolist(), row.data.tolist())) for qid, row in rows.items()}
    by_id = {qid: dict(zip(map(str, row.indices.tolist()), row.data.tolist())) for qid, row in rows.items()}
    k = params.k
    return {
        "bm25_nori": SystemIndex(
            os_index.text_index_body(),
            lambda doc: {"title": doc.title, "text": doc.text},
            lambda qid: search.match(client, names["bm25_nori"], "text", texts[qid], k),
        ),
        "v2_rank_features": SystemIndex(
            os_index.sparse_index_body(),
            lambda doc: {SPARSE_FIELD: dict(zip(tokens[doc.term_ids].tolist(), doc.weights.tolist()))},
            lambda qid: search.neural_sparse_tokens(client, names["v2_rank_features"], SPARSE_FIELD, by_token[qid], k),
        ),
        "v2_sparse_vector": SystemIndex(
            os_index.sparse_vector_index_body(params.seismic),
            lambda doc: {SPARSE_FIELD: dict(zip(map(str, doc.term_ids.tolist()), doc.weights.tolist()))},
            lambda qid: search.search(
                client,
                names["v2_sparse_vector"],
                search.neural_sparse_seismic_clause(SPARSE_FIELD, by_id[qid], params.seismic_query),
                k,
            ),
        ),
    }


def build_index(
    client: OpenSearch, name: str, system: SystemIndex, documents: Iterator[Document], batch: int
) -> dict[str, float]:
    """Bulk-load with refresh off and no replicas, then refresh and force-merge to one segment; timings in s."""
    body = system.body
    body["settings"]["index"].update({"refresh_interval": "-1", "number_of_replicas": 0})
    os_index.create_index(client, name, body, replace=True)
    records = ({"_id": doc.doc_id, **system.source(doc)} for doc in documents)
    start = time.perf_counter()
    indexed = os_index.bulk_index(client, name, records, batch_size=batch, refresh=False)
    ingest_s = time.perf_counter() - start
    with refused_as(f"merging {name}"):
        client.indices.put_settings(index=name, body={"index": {"refresh_interval": None}})
        # The first refresh writes the bulk load's segments, and SEISMIC clusters each one as it is written:
        # at 1M documents that alone can outlast the client's timeout, like the merge.
        client.indices.refresh(index=name, request_timeout=BUILD_TIMEOUT_S)
        client.indices.forcemerge(index=name, max_num_segments=1, request_timeout=BUILD_TIMEOUT_S)
        client.indices.refresh(index=name, request_timeout=BUILD_TIMEOUT_S)
        segments = int(client.indices.stats(index=name, metric="segments")["_all"]["primaries"]["segments"]["count"])
    build_s = time.perf_counter() - start
    return {
        "documents": indexed,
        "ingest_s": ingest_s,
        "ingest_docs_per_s": indexed / ingest_s,
        "merge_s": build_s - ingest_s,
        "build_s": build_s,
        "build_docs_per_s": indexed / build_s,
        "segments": segments,
    }
