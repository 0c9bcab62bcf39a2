"""Benchmark deployed variants and BM25 (nori, with Lucene's k1/b and with those chosen on dev) against the live
OpenSearch index.

Quality (nDCG@10, MRR@10, Recall@100 with per-query scores and paired tests), cost
(latency p50/p99 and throughput under bounded concurrency, index size, document and
query non-zero terms, FLOPS), and a parity check: the live `neural_sparse` ranking must
equal the exact ranking of the variant's own encodings, computed here (documents by the
ONNX graph deploy registered for that corpus, queries by tokenizer + the corpus's IDF), so that it checks
the whole path: model, ingest pipeline and index. The index does not keep the vectors in
`_source` (they would more than double its size), so nothing is read back from it.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from opensearchpy import OpenSearch

from nsparse.data import Benchmark
from nsparse.eval import EvalResult, SparseRetriever, evaluate, paired_test, sparse_cost
from nsparse.export.onnx import OnnxDocumentEncoder
from nsparse.model.encoder import SparseEncoder
from nsparse.opensearch import index as os_index
from nsparse.opensearch import search
from nsparse.opensearch.index import SPARSE_FIELD, BM25Similarity
from nsparse.opensearch.latency import Searcher, latency_percentiles, run_interleaved, run_queries, throughput
from nsparse.params import BenchmarkSection
from nsparse.pipeline.baselines import ensure_bm25_index
from nsparse.pipeline.benchmark_report import BenchmarkReport
from nsparse.pipeline.deploy import Deployment
from nsparse.pipeline.fitting import encode_corpus, fit_to_corpus

log = logging.getLogger(__name__)


@dataclass
class VariantEncoders:
    """A deployed variant's encoders in process, one per corpus as deploy fitted them: the exact side of parity,
    and the client-side query encoder."""

    model_dir: Path
    deployment: Deployment
    _fitted: dict[str, tuple[SparseEncoder, OnnxDocumentEncoder]] = field(default_factory=dict)
    _encoded: dict[str, tuple[list[str], sp.csr_matrix]] = field(default_factory=dict)

    def encoders(self, benchmark: str, corpus: dict[str, dict[str, str]]) -> tuple[SparseEncoder, OnnxDocumentEncoder]:
        """The encoder deploy served `benchmark`'s index with (refitted here, checked against the record), and the
        ONNX graph it registered."""
        key = self.deployment.corpus_of[benchmark]
        if key not in self._fitted:
            models = self.deployment.corpora[key]
            model = SparseEncoder.load(self.model_dir).eval()
            if self.deployment.statistics == "fitted":
                fitted = fit_to_corpus(model, corpus)
                if models.fitted_to and fitted["sha256"] != models.fitted_to["sha256"]:
                    raise RuntimeError(
                        f"deploy of {self.deployment.variant} fitted {benchmark}'s models to other documents than "
                        f"its corpus now holds: rerun deploy (dvc repro deploy@{self.deployment.variant})"
                    )
            self._fitted[key] = (model, OnnxDocumentEncoder(Path(models.package) / "model.onnx", model))
        return self._fitted[key]

    def encode_query(self, benchmark: str, corpus: dict[str, dict[str, str]], text: str) -> dict[str, float]:
        """{token: weight} as the deployed SPARSE_TOKENIZE model computes it, but here, as a search client would."""
        return self.encoders(benchmark, corpus)[0].query_token_weights(text)

    def documents_as_indexed(
        self, benchmark: str, corpus: dict[str, dict[str, str]]
    ) -> tuple[list[str], sp.csr_matrix]:
        """Document ids and vectors of `benchmark`'s index at `rank_features` precision (encoded once per index, by
        the ONNX graph deploy registered, in one call)."""
        index = self.deployment.indices[benchmark]
        if index not in self._encoded:
            documents = self.encoders(benchmark, corpus)[1]
            self._encoded[index] = encode_corpus(documents, corpus, chunk_size=None, progress=False)
        return self._encoded[index]


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Torch in the calling thread only while queries are timed, then as it was.

    The benchmark is a search client sharing the node's machine. Torch's worker threads
    spin for a while after each call (the client-side query encoder makes one small call
    per query), and on 2 cores that took the node a core: v2_client_encoded's p50 on
    korquad was 6.9 ms with them and 4.5 ms without, and the spinning slowed whichever
    system was timed next.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _top(ranking: dict[str, float], k: int) -> list[tuple[str, float]]:
    return sorted(ranking.items(), key=lambda item: (-item[1], item[0]))[:k]


def _score_tiers(ranking: dict[str, float], k: int) -> list[frozenset[str]]:
    """The top-k as groups of equal score, best first; the last group is dropped (k may cut through a tie)."""
    tiers: dict[float, set[str]] = {}
    for doc_id, score in _top(ranking, k):
        tiers.setdefault(round(score, 3), set()).add(doc_id)
    return [frozenset(group) for _, group in sorted(tiers.items(), reverse=True)][:-1]


def parity(live: dict[str, dict[str, float]], exact: dict[str, dict[str, float]], k: int = 10) -> dict[str, float]:
    """How far the live ranking agrees with the exact one: identical top-k (ties aside) and mean top-k overlap."""
    identical = [_score_tiers(live.get(q, {}), k) == _score_tiers(ranking, k) for q, ranking in exact.items()]
    overlap = [
        len({d for d, _ in _top(live.get(q, {}), k)} & {d for d, _ in _top(ranking, k)}) / k
        for q, ranking in exact.items()
    ]
    return {
        "queries": len(exact),
        "identical_topk_share": statistics.fmean(identical) if identical else float("nan"),
        "mean_topk_overlap": statistics.fmean(overlap) if overlap else float("nan"),
    }


def benchmark_one(
    client: OpenSearch,
    name: str,
    bench: Benchmark,
    deployments: dict[str, Deployment],
    encoders: dict[str, VariantEncoders],
    bm25_indices: dict[str, str],
    settings: BenchmarkSection,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """All systems on one benchmark: metrics per system, significance tests, parity figures.

    `bm25_indices` names the index of each BM25 system (`bm25_nori`, `bm25_nori_tuned`).
    """
    k = settings.top_k
    queries, qrels = query_sample(bench, settings.max_queries)
    latency_texts = list(queries.values())[: settings.throughput_queries]
    chosen = settings.variant  # the variant hybrid, two-phase and the paired tests use
    searchers: dict[str, Searcher] = {
        system: lambda text, index=index: search.bm25(client, index, text, k) for system, index in bm25_indices.items()
    }
    for variant, dep in deployments.items():
        searchers[variant] = lambda text, d=dep: search.neural_sparse_model(
            client, d.indices[name], SPARSE_FIELD, text, d.query_model_id(name), k
        )
    best = deployments[chosen]
    searchers["hybrid"] = lambda text: search.hybrid(
        client,
        best.indices[name],
        hybrid_clauses(text, best.query_model_id(name)),
        k,
        search.hybrid_pipeline_name(settings.hybrid_pipeline, search.hybrid_query_group(text)),
    )
    if settings.two_phase:
        searchers[f"{chosen}_two_phase"] = lambda text: search.search(
            client,
            best.indices[name],
            search.neural_sparse_clause(SPARSE_FIELD, text, best.query_model_id(name)),
            k,
            search_pipeline=settings.two_phase_pipeline,
        )
    # The same index and query weights without ML Commons on the query path: the client tokenizes.
    searchers[f"{chosen}_client_encoded"] = lambda text: search.neural_sparse_tokens(
        client, best.indices[name], SPARSE_FIELD, encoders[chosen].encode_query(name, bench.corpus, text), k
    )

    results: dict[str, dict[str, Any]] = {}
    evaluations: dict[str, EvalResult] = {}
    live_runs: dict[str, dict[str, dict[str, float]]] = {}
    with one_torch_thread():
        system_runs = run_interleaved(searchers, queries, name)
        qps = {system: throughput(searcher, latency_texts, settings.clients) for system, searcher in searchers.items()}
    for system, system_run in system_runs.items():
        live_runs[system] = system_run.run
        evaluation = evaluate(qrels, system_run.run)
        evaluations[system] = evaluation
        results[system] = {
            **evaluation.summary,
            **latency_percentiles(system_run.latencies_ms),
            "throughput_qps": qps[system],
        }
    for system, index in bm25_indices.items():
        results[system]["index_size_mb"] = os_index.settled_index_size_bytes(client, index) / 2**20

    parity_figures: dict[str, Any] = {}
    query_ids = list(queries)
    for variant, dep in deployments.items():
        index = dep.indices[name]
        doc_ids, doc_matrix = encoders[variant].documents_as_indexed(name, bench.corpus)
        query_matrix = encoders[variant].encoders(name, bench.corpus)[0].encode_queries([queries[q] for q in query_ids])
        cost = sparse_cost(query_matrix, doc_matrix)
        results[variant].update(cost, index_size_mb=os_index.settled_index_size_bytes(client, index) / 2**20)
        exact = SparseRetriever(doc_matrix, doc_ids).search(query_matrix, query_ids, k)
        parity_figures[variant] = parity(live_runs[variant], exact)
    significance = {
        f"{chosen}_vs_{other}": paired_test(evaluations[chosen], evaluations[other], "ndcg@10")
        for other in [*(v for v in deployments if v != chosen), *bm25_indices]
    }
    return results, significance, parity_figures


def query_sample(bench: Benchmark, max_queries: int) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """The first `max_queries` judged queries of a split (the quality and latency sample), with their qrels."""
    queries = dict(list(bench.queries.items())[:max_queries])
    return queries, {q: bench.qrels[q] for q in queries}


def hybrid_clauses(text: str, query_model_id: str) -> list[dict[str, Any]]:
    """BM25 over the index's nori-analysed title and text (as `bm25_nori` queries), and the neural sparse query of
    the index's own query model."""
    return [
        search.bm25_clause(text),
        search.neural_sparse_clause(SPARSE_FIELD, text, query_model_id),
    ]


def choose_hybrid_weights(
    client: OpenSearch, dev: dict[str, Benchmark], deployment: Deployment, settings: BenchmarkSection
) -> dict[str, Any]:
    """BM25's weight in the hybrid for each query group (`search.hybrid_query_group`), chosen on the dev splits.

    Each group gets the candidate with the best mean nDCG@10 over its dev queries (never
    test); a group without dev queries gets the best over all of them. Each weight is left
    in its group's search pipeline, which the test runs (and `nsparse search --hybrid`) use.
    """
    base, k = settings.hybrid_pipeline, settings.top_k
    samples = {name: query_sample(bench, settings.max_queries) for name, bench in dev.items()}
    groups = {
        (name, qid): search.hybrid_query_group(text)
        for name, (queries, _) in samples.items()
        for qid, text in queries.items()
    }
    pipeline = f"{base}-dev"
    scores: dict[float, dict[tuple[str, str], float]] = {}
    for weight in settings.hybrid_bm25_weights:
        os_index.put_hybrid_pipeline(client, pipeline, weight)
        scores[weight] = {}
        for name, (queries, qrels) in samples.items():
            index, model_id = deployment.indices[name], deployment.query_model_id(name)
            run = run_queries(
                lambda text, index=index, model_id=model_id: search.hybrid(
                    client, index, hybrid_clauses(text, model_id), k, pipeline
                ),
                queries,
                f"{name}/dev/hybrid@{weight}",
            ).run
            per_query = evaluate(qrels, run).per_query["ndcg@10"]
            scores[weight].update({(name, qid): score for qid, score in per_query.items()})
    os_index.delete_search_pipeline(client, pipeline)

    def best(members: set[tuple[str, str]]) -> tuple[float, dict[str, float]]:
        means = {w: float(np.mean([by_query[m] for m in members if m in by_query])) for w, by_query in scores.items()}
        return max(means, key=lambda w: (means[w], -w)), means  # ties: the smaller BM25 share

    report: dict[str, Any] = {"bm25_weight": {}, "dev_queries": {}, "dev_ndcg@10": {}, "dev_benchmarks": list(dev)}
    for group in search.HYBRID_QUERY_GROUPS:
        members = {member for member, member_group in groups.items() if member_group == group}
        chosen, means = best(members or set(groups))
        os_index.put_hybrid_pipeline(client, search.hybrid_pipeline_name(base, group), chosen)
        report["bm25_weight"][group] = chosen
        report["dev_queries"][group] = len(members)
        report["dev_ndcg@10"][group] = {str(w): s for w, s in means.items()}
    return report


def run_all(
    client: OpenSearch,
    benchmarks: dict[str, Benchmark],
    dev: dict[str, Benchmark],
    deployments: dict[str, Deployment],
    encoders: dict[str, VariantEncoders],
    settings: BenchmarkSection,
    index_prefix: str,
    nori_tuned: BM25Similarity,
) -> BenchmarkReport:
    """Every benchmark × system, with the paired tests and live-vs-exact parity of each benchmark.

    `dev` holds the dev splits the hybrid's BM25 weights are chosen on, before any test query runs;
    `nori_tuned` is the k1/b the baselines stage chose for nori on them (`bm25_nori_tuned`).
    """
    report = BenchmarkReport(hybrid=choose_hybrid_weights(client, dev, deployments[settings.variant], settings))
    if settings.two_phase:
        os_index.put_search_pipeline(
            client, settings.two_phase_pipeline, os_index.load_body("two_phase_search_pipeline")
        )
    for name, bench in benchmarks.items():
        bm25_indices = {
            "bm25_nori": ensure_bm25_index(client, index_prefix, bench.corpus),
            "bm25_nori_tuned": ensure_bm25_index(client, index_prefix, bench.corpus, nori_tuned),
        }
        results, significance, parity_figures = benchmark_one(
            client, name, bench, deployments, encoders, bm25_indices, settings
        )
        report.systems[name] = results
        report.significance[name] = significance
        report.parity[name] = parity_figures
    return report


def quality_rows(report: BenchmarkReport) -> list[dict[str, Any]]:
    """Flat rows (benchmark, system, metrics) for the DVC plot of quality."""
    return [
        {
            "benchmark": b,
            "system": f"{b}/{s}",
            **{m: v for m, v in scores.items() if m in ("ndcg@10", "mrr@10", "recall@100")},
        }
        for b, systems in report.systems.items()
        for s, scores in systems.items()
    ]
