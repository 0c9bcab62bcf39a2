"""Scale benchmark: BM25 (nori), v2 on `rank_features` and v2 on SEISMIC `sparse_vector`, 10k to 1M documents.

The project holds about 18k real documents (the korquad and msmarco-ko corpora). Larger
corpora are the real documents followed by synthetic ones (`recombined_texts`): each joins a
run of sentences from one real document to a run from another, as long as a real document,
and is encoded by the model like any document, so BM25 and v2 index the same text, and the
topical term co-occurrence that SEISMIC's clusters rely on is real. (Terms drawn one by one
from the real frequencies have none: at 1M such documents SEISMIC's recall@10 was 0.69.)
Every figure is labelled with how many of its documents are synthetic.

Queries are real benchmark queries encoded as the product encodes them (inference-free:
tokenizer + IDF weights), sent as `query_tokens`, so no model is deployed. Per size and
system: build time and ingest rate, index size on disk, latency p50/p99 under concurrent
clients; for SEISMIC also recall@10 against the exact `rank_features` top 10 of the same
query vectors; and the node's heap and resident memory.

Loading: replicas 0, `refresh_interval: -1` during the bulk load, then refresh and a force
merge to one segment. SEISMIC clusters a segment's posting lists when a flush or a merge
writes a segment of at least `approximate_threshold` documents (smaller segments are
searched exactly). The benchmark sets it to the corpus size, so only the merged segment is
clustered, once: the whole index is then one clustered segment.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from opensearchpy import OpenSearch

from nsparse.data import load_benchmark
from nsparse.io import atomic_open, read_json, write_json
from nsparse.opensearch import index as os_index
from nsparse.opensearch import search
from nsparse.opensearch.client import refused_as
from nsparse.opensearch.index import SPARSE_FIELD, SeismicMethod
from nsparse.opensearch.latency import latency_percentiles, run_interleaved, throughput
from nsparse.opensearch.node import resident_memory_bytes
from nsparse.opensearch.search import SeismicQuery

log = logging.getLogger(__name__)

SYSTEMS = ("bm25_nori", "v2_rank_features", "v2_sparse_vector")
SYNTHETIC_PREFIX = "synthetic-"
BUILD_TIMEOUT_S = 7200  # refresh and force merge of one index, clustering included
SEISMIC_MIN_POSTINGS = 160  # neural-search's DEFAULT_POSTING_MINIMUM_LENGTH
SYNTHETIC_CHUNK = 10_000  # documents per seeded chunk: the first N synthetic documents never depend on the total
SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


@dataclass(frozen=True)
class Document:
    """One document as the three indices receive it: text for BM25, vocabulary ids and weights for v2."""

    doc_id: str
    title: str
    text: str
    term_ids: np.ndarray
    weights: np.ndarray
    synthetic: bool


@dataclass(frozen=True)
class EncodedCorpus:
    """Documents (ids, titles and texts) and their v2 vectors, in corpus order."""

    doc_ids: list[str]
    titles: list[str]
    texts: list[str]
    vectors: sp.csr_matrix
    synthetic: bool

    def documents(self, count: int) -> Iterator[Document]:
        for row in range(min(count, len(self.doc_ids))):
            start, end = self.vectors.indptr[row], self.vectors.indptr[row + 1]
            yield Document(
                self.doc_ids[row],
                self.titles[row],
                self.texts[row],
                self.vectors.indices[start:end],
                self.vectors.data[start:end],
                self.synthetic,
            )


def sentences(text: str) -> list[str]:
    """`text` cut after each sentence end (., ?, !) that a space follows; the text itself when it has none."""
    return [part for part in SENTENCE_END.split(text.strip()) if part] or [text]


def recombined_texts(real_texts: Sequence[str], count: int, rng: np.random.Generator) -> list[str]:
    """`count` texts, each a run of sentences from one real text followed by a run from another.

    Each text is as long (in words) as a randomly chosen real text, and its first source gives
    30-70% of it. Runs start at a random sentence and keep the real order, so a synthetic
    document reads as two real passages joined, and carries their topics' term co-occurrence.
    Texts are drawn one after the other from `rng`, so the first n of a larger sample are the same.
    """
    if len(real_texts) < 2:
        raise ValueError(f"recombining needs at least two real texts, not {len(real_texts)}")
    split = [sentences(text) for text in real_texts]
    word_counts = [[len(sentence.split()) for sentence in parts] for parts in split]

    def run(source: int, words: int) -> tuple[list[str], int]:
        """Sentences of real text `source` from a random one on, until they hold `words` words or the text ends."""
        taken, held = [], 0
        for position in range(int(rng.integers(len(split[source]))), len(split[source])):
            taken.append(split[source][position])
            held += word_counts[source][position]
            if held >= words:
                break
        return taken, held

    texts = []
    for _ in range(count):
        target = sum(word_counts[int(rng.integers(len(split)))])
        first, second = (int(source) for source in rng.choice(len(split), size=2, replace=False))
        head, held = run(first, max(1, round(rng.uniform(0.3, 0.7) * target)))
        tail, _ = run(second, max(1, target - held))
        texts.append(" ".join(head + tail))
    return texts


def synthetic_corpus(real_texts: Sequence[str], count: int, seed: int, encoder: Any) -> EncodedCorpus:
    """`count` recombined texts encoded by `encoder`, seeded per chunk: a smaller corpus is a larger one's prefix."""
    from nsparse.pipeline.fitting import encode_corpus

    texts: list[str] = []
    for chunk in range(math.ceil(count / SYNTHETIC_CHUNK)):
        rng = np.random.default_rng([seed, chunk])
        texts += recombined_texts(real_texts, min(SYNTHETIC_CHUNK, count - len(texts)), rng)
    doc_ids = [f"{SYNTHETIC_PREFIX}{number:07d}" for number in range(count)]
    _, vectors = encode_corpus(encoder, {doc_id: {"title": "", "text": text} for doc_id, text in zip(doc_ids, texts)})
    return EncodedCorpus(doc_ids, [""] * count, texts, vectors, synthetic=True)


def corpus_documents(real: EncodedCorpus, synthetic: EncodedCorpus, size: int) -> Iterator[Document]:
    """The first `size` documents: the real ones, then synthetic ones."""
    yield from real.documents(size)
    yield from synthetic.documents(max(0, size - len(real.doc_ids)))


@dataclass(frozen=True)
class ScaleParams:
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    systems: tuple[str, ...] = SYSTEMS
    model: str = "models/v2"
    benchmarks_dir: str = "data/benchmarks"
    corpora: tuple[str, ...] = ("korquad", "msmarco-ko")  # real documents and queries (the split's first ones)
    split: str = "test"
    queries: int = 200  # per size and system, shared out evenly over `corpora`
    clients: int = 4
    k: int = 10
    seed: int = 0
    bulk_batch: int = 2000
    # Left None: `approximate_threshold` is each corpus' size (only the force-merged segment is clustered, and
    # every size is searched by SEISMIC, not its exact fallback); the ceilings are set from the encoded data.
    seismic: SeismicMethod = field(default_factory=SeismicMethod)
    # SEISMIC keeps this share of the corpus per posting list (at least neural-search's own minimum, 160) unless
    # `seismic.n_postings` fixes a count: four times the plugin's default share (0.0005). At 100k documents,
    # recall@10 of exact was 0.924 with 0.002 and 0.970 with 0.005, which took 2.2 times as long to cluster
    # (clustering grows with the square of the posting length: 0.005 would take hours at 1M here). README.
    n_postings_share: float = 0.002
    # neural-search's circuit breaker, which bounds SEISMIC's heap caches ("40%"); None leaves the cluster's (10%)
    neural_breaker_limit: str | None = None
    seismic_query: SeismicQuery = field(default_factory=SeismicQuery)
    index_prefix: str = "nsparse-scale"
    keep_indices: bool = False


@dataclass(frozen=True)
class EncodedQueries:
    query_ids: list[str]
    texts: list[str]
    vectors: sp.csr_matrix


def load_real(params: ScaleParams, encoder: Any, limit: int) -> tuple[EncodedCorpus, EncodedQueries]:
    """Up to `limit` real documents of `params.corpora` encoded by the model, and the real queries, encoded too."""
    from nsparse.pipeline.fitting import encode_corpus

    corpus: dict[str, dict[str, str]] = {}
    queries: dict[str, str] = {}
    per_corpus = math.ceil(params.queries / len(params.corpora))
    for name in params.corpora:
        bench = load_benchmark(Path(params.benchmarks_dir) / name, params.split)
        corpus.update({f"{name}:{doc_id}": doc for doc_id, doc in bench.corpus.items()})
        queries.update({f"{name}:{qid}": text for qid, text in list(bench.queries.items())[:per_corpus]})
    corpus = dict(list(corpus.items())[:limit])
    doc_ids, vectors = encode_corpus(encoder, corpus)
    query_texts = list(queries.values())[: params.queries]
    real = EncodedCorpus(
        doc_ids,
        [corpus[d]["title"] for d in doc_ids],
        [corpus[d]["text"] for d in doc_ids],
        vectors,
        synthetic=False,
    )
    return real, EncodedQueries(list(queries)[: params.queries], query_texts, encoder.encode_queries(query_texts))


def quantization_ceiling(values: np.ndarray) -> float:
    """The largest weight rounded up to two significant digits: SEISMIC's byte then spans the real range."""
    largest = float(values.max())
    scale = 10 ** (math.floor(math.log10(largest)) - 1)
    return math.ceil(largest / scale) * scale


# --- one index per system -----------------------------------------------------------
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


def measure_latency(
    searchers: dict[str, Callable[[str], search.Ranking]], query_ids: Sequence[str], clients: int
) -> dict[str, dict[str, float]]:
    """Each system's p50 and p99 round trip, every query run on every system by `clients` concurrent clients.

    The systems take turns query by query, in an order rotated from query to query (as the
    pipeline's benchmark does), so the SEISMIC / BM25 ratio is measured under the same load.
    """
    runs = run_interleaved(searchers, {qid: qid for qid in query_ids}, "latency", clients)
    return {
        name: {"clients": clients, "queries": len(run.latencies_ms), **latency_percentiles(run.latencies_ms)}
        for name, run in runs.items()
    }


def recall_at_k(approximate: dict[str, search.Ranking], exact: dict[str, search.Ranking], k: int) -> float:
    """Mean share of each query's exact top k that the approximate top k finds (queries with no exact hit skipped)."""
    shares = [
        len({d for d, _ in approximate.get(qid, [])[:k]} & {d for d, _ in ranking[:k]}) / min(k, len(ranking))
        for qid, ranking in exact.items()
        if ranking
    ]
    return float(np.mean(shares)) if shares else float("nan")


def node_memory(client: OpenSearch) -> dict[str, Any]:
    """The node's JVM heap and circuit breakers (node stats), and resident memory (/proc, for a local node).

    neural-search's breaker bounds SEISMIC's heap caches (default 10% of the heap); what it
    refuses to cache is read from the index files at query time instead.
    """
    stats = next(iter(client.nodes.stats(metric="jvm,breaker")["nodes"].values()))
    heap = stats["jvm"]["mem"]
    pid = next(iter(client.nodes.info(metric="process")["nodes"].values()))["process"]["id"]
    return {
        "heap_max_bytes": heap["heap_max_in_bytes"],
        "heap_used_bytes": heap["heap_used_in_bytes"],
        "non_heap_used_bytes": heap["non_heap_used_in_bytes"],
        "rss_bytes": _local_node_rss(pid),
        "breakers": {
            name: {"limit_bytes": breaker["limit_size_in_bytes"], "estimated_bytes": breaker["estimated_size_in_bytes"]}
            for name, breaker in stats["breakers"].items()
        },
    }


def _local_node_rss(pid: int) -> int | None:
    """VmRSS of `pid` when that process is an OpenSearch JVM on this machine (None for a remote cluster)."""
    try:
        if b"opensearch" not in Path(f"/proc/{pid}/cmdline").read_bytes().lower():
            return None
        return resident_memory_bytes(pid)
    except OSError:
        return None


# --- the run --------------------------------------------------------------------------
def seismic_for_size(params: ScaleParams, size: int) -> SeismicMethod:
    """The SEISMIC mapping for a corpus of `size` documents; what `params.seismic` leaves None is sized to it.

    `n_postings`: that share of `size`, never below neural-search's own minimum posting length.
    `approximate_threshold`: `size`, so that the bulk load's segments and the merges on the way
    are searched exactly and not clustered, and the force-merged segment is clustered once
    (clustering every flushed segment, then each merge again, took most of a 1M build).
    """
    seismic = params.seismic
    return replace(
        seismic,
        n_postings=seismic.n_postings or max(SEISMIC_MIN_POSTINGS, round(params.n_postings_share * size)),
        approximate_threshold=seismic.approximate_threshold or size,
    )


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
        "params": _comparable(asdict(params)),
        "real_documents_available": len(real.doc_ids),
        "synthetic_documents_are": "two real documents' sentence runs joined, encoded by the model",
        "query_nonzero_terms_mean": float(np.diff(queries.vectors.indptr).mean()),
        "document_nonzero_terms_mean": float(np.diff(real.vectors.indptr).mean()),
        "sizes": _earlier_sizes(output, params, client),
    }

    def save(size_result: dict[str, Any]) -> None:
        report["sizes"][str(size_result["documents"])] = size_result
        report["sizes"] = dict(sorted(report["sizes"].items(), key=lambda item: int(item[0])))
        write_json(output, report)
        plot_latency(report, plot)

    for size in sorted(params.sizes):
        run_size(client, size, real, synthetic, encoder.vocab, queries, params, save)
    return report


def _comparable(params: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide a size's figures: all but which sizes and systems a run measures."""
    return {key: value for key, value in params.items() if key not in ("sizes", "systems", "keep_indices")}


def _earlier_sizes(output: Path, params: ScaleParams, client: OpenSearch) -> dict[str, Any]:
    """The sizes `output` holds from a run with the same settings on the same version, except those run now."""
    if not output.exists():
        return {}
    earlier = read_json(output)
    same = (
        earlier.get("params") == json.loads(json.dumps(_comparable(asdict(params))))
        and earlier.get("opensearch_version") == client.info()["version"]["number"]
    )
    if not same:
        log.info("%s was measured with other settings: its sizes are not kept", output)
        return {}
    return {size: entry for size, entry in earlier.get("sizes", {}).items() if int(size) not in params.sizes}


def plot_latency(report: dict[str, Any], path: Path) -> None:
    """p50 (solid) and p99 (dashed) latency against corpus size, both axes log; synthetic sizes marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(report["sizes"].values(), key=lambda entry: entry["documents"])
    x = [entry["documents"] for entry in sizes]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for system in SYSTEMS:
        timed = [(n, e["systems"].get(system, {})) for n, e in zip(x, sizes)]
        measured = [(n, f) for n, f in timed if "latency_p50_ms" in f]  # a size cut short has build figures only
        if not measured:
            continue
        xs = [n for n, _ in measured]
        (line,) = ax.plot(xs, [f["latency_p50_ms"] for _, f in measured], marker="o", label=system)
        ax.plot(xs, [f["latency_p99_ms"] for _, f in measured], linestyle="--", color=line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")  # p50 near 10 ms and p99 tails of hundreds share one axis
    ax.minorticks_off()
    ax.set_xlabel("documents (* = partly synthetic)")
    ax.set_xticks(x, [f"{n:,}{'*' if e['synthetic'] else ''}" for n, e in zip(x, sizes)])
    ax.set_ylabel("latency ms (p50 solid, p99 dashed)")
    ax.set_title(f"OpenSearch {report['opensearch_version']}, {report['params']['clients']} concurrent clients")
    if ax.get_legend_handles_labels()[0]:  # nothing timed yet: the build figures are saved all the same
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
