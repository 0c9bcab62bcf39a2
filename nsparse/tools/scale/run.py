"""A scale run: every size, every system, the report written after each system."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from opensearchpy import OpenSearch

from nsparse.io import write_json
from nsparse.opensearch import index as os_index
from nsparse.opensearch import search
from nsparse.opensearch.client import refused_as
from nsparse.opensearch.latency import throughput
from nsparse.tools.scale.corpus import EncodedCorpus, EncodedQueries, corpus_documents, load_real, synthetic_corpus
from nsparse.tools.scale.indices import build_index, system_indices
from nsparse.tools.scale.measure import measure_latency, node_memory, recall_at_k
from nsparse.tools.scale.report import comparable, earlier_sizes, plot_latency
from nsparse.tools.scale.settings import ScaleParams, quantization_ceiling, seismic_for_size

log = logging.getLogger(__name__)


def run_size(
    client: OpenSearch,
    size: int,
    real: EncodedCorpus,
    synthetic: EncodedCorpus,
    vocab: Sequence[str],
    queries: EncodedQueries,
    params: ScaleParams,
    save: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """Build each system's index of one corpus size, measure it, and (unless `keep_indices`) delete it.

    `save` receives the figures so far after each system, so a run cut short keeps what it measured.
    """
    names = {system: f"{params.index_prefix}-{system.replace('_', '-')}-{size}" for system in params.systems}
    params = replace(params, seismic=seismic_for_size(params, size))
    systems = system_indices(client, names, vocab, queries, params)
    synthetic_count = max(0, size - len(real.doc_ids))
    result: dict[str, Any] = {
        "documents": size,
        "real_documents": size - synthetic_count,
        "synthetic_documents": synthetic_count,
        "synthetic": synthetic_count > 0,
        "seismic_n_postings": params.seismic.n_postings,
        "seismic_approximate_threshold": params.seismic.approximate_threshold,
        "systems": {},
    }
    rankings: dict[str, dict[str, search.Ranking]] = {}
    try:
        for system in params.systems:
            spec = systems[system]
            documents = corpus_documents(real, synthetic, size)
            figures = build_index(client, names[system], spec, documents, params.bulk_batch)
            figures["index_size_bytes"] = os_index.settled_index_size_bytes(client, names[system])
            rankings[system] = {qid: spec.searcher(qid) for qid in queries.query_ids}  # warm-up, and the rankings
            result["systems"][system] = figures
            result["node_memory"] = node_memory(client)
            log.info("%d documents, %s built: %s", size, system, figures)
            save(result)
        searchers = {system: systems[system].searcher for system in params.systems}
        result["load_average_1m"] = os.getloadavg()[0]  # the machine's load before timing: shared machines are noisy
        latency = measure_latency(searchers, queries.query_ids, params.clients)
        for system, searcher in searchers.items():
            qps = throughput(searcher, queries.query_ids, params.clients)  # a block figure: each system alone
            result["systems"][system].update(latency[system], throughput_qps=qps)
        if {"v2_sparse_vector", "v2_rank_features"} <= set(rankings):
            result["systems"]["v2_sparse_vector"][f"recall@{params.k}_vs_rank_features"] = recall_at_k(
                rankings["v2_sparse_vector"], rankings["v2_rank_features"], params.k
            )
        if {"v2_sparse_vector", "bm25_nori"} <= set(rankings):
            result["seismic_p50_over_bm25_p50"] = (
                result["systems"]["v2_sparse_vector"]["latency_p50_ms"]
                / result["systems"]["bm25_nori"]["latency_p50_ms"]
            )
        log.info("%d documents timed: %s", size, result["systems"])
        save(result)
    finally:
        if not params.keep_indices:
            for name in names.values():
                os_index.delete_index(client, name)
    return result


def run_scale(
    client: OpenSearch, params: ScaleParams, output: Path, plot: Path, encoder: Any | None = None
) -> dict[str, Any]:
    """Every size: build, measure, write `output` (atomically, after each system) and the latency plot.

    Sizes that `output` already holds from a run with the same settings and node version are
    kept, so a long size (1M) can be run on its own and join the others.
    """
    from nsparse.tools.inputs import load_model

    os_index.require_sparse_vector(client)
    if params.neural_breaker_limit:
        with refused_as(f"setting the neural_search circuit breaker to {params.neural_breaker_limit}"):
            client.cluster.put_settings(
                body={"transient": {"plugins.neural_search.circuit_breaker.limit": params.neural_breaker_limit}}
            )
    encoder = encoder or load_model(params.model)
    real, queries = load_real(params, encoder, max(params.sizes))
    synthetic = synthetic_corpus(real.texts, max(0, max(params.sizes) - len(real.doc_ids)), params.seed, encoder)
    seismic = replace(
        params.seismic,
        quantization_ceiling_ingest=params.seismic.quantization_ceiling_ingest
        or quantization_ceiling(real.vectors.data),
        quantization_ceiling_search=params.seismic.quantization_ceiling_search
        or quantization_ceiling(queries.vectors.data),
    )
    params = replace(params, seismic=seismic)
    report: dict[str, Any] = {
        "opensearch_version": client.info()["version"]["number"],
        "client_cpu_count": os.cpu_count(),
        "model": params.model,
        "params": comparable(asdict(params)),
        "real_documents_available": len(real.doc_ids),
        "synthetic_documents_are": "two real documents' sentence runs joined, encoded by the model",
        "query_nonzero_terms_mean": float(np.diff(queries.vectors.indptr).mean()),
        "document_nonzero_terms_mean": float(np.diff(real.vectors.indptr).mean()),
        "sizes": earlier_sizes(output, params, client),
    }

    def save(size_result: dict[str, Any]) -> None:
        report["sizes"][str(size_result["documents"])] = size_result
        report["sizes"] = dict(sorted(report["sizes"].items(), key=lambda item: int(item[0])))
        write_json(output, report)
        plot_latency(report, plot)

    for size in sorted(params.sizes):
        run_size(client, size, real, synthetic, encoder.vocab, queries, params, save)
    return report
