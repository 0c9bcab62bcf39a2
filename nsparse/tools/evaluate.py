"""Score any saved sparse encoder on any BEIR folder, exactly and in process (`nsparse evaluate`).

The figures are those of the benchmark stage's exact run: documents are encoded from the
same text (title + body, `nsparse.eval.bm25.document_text`), weights are truncated to the
precision a `rank_features` field stores (`nsparse.pipeline.fitting.encode_corpus`), and the ranking is
`SparseRetriever`'s exact dot product scored by `nsparse.eval.evaluate`; so a number here
is the number the live index would give, without a cluster.

Memory stays bounded on large corpora: documents are encoded in chunks whose dense
activations are dropped as soon as each chunk is a CSR block (`encode_corpus`), and the
retriever scores queries in blocks sized to a fixed number of score cells.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from nsparse.config import load_params
from nsparse.data import Benchmark
from nsparse.params import Bm25Params, describe
from nsparse.tools.inputs import InputError

if TYPE_CHECKING:  # torch, ranx and the OpenSearch client load lazily: a bad path fails in a second
    from nsparse.model.encoder import SparseEncoder


@dataclass
class Evaluation:
    """What `nsparse evaluate` prints and writes: one row of figures per system."""

    model: str
    benchmark: str
    split: str
    documents: int
    queries: int
    index_precision: bool
    statistics: dict[str, Any] = field(default_factory=dict)  # "mode": fitted | as-shipped, "fitted_to": the corpus
    systems: dict[str, dict[str, float]] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def system_name(model: str) -> str:
    """The model's name in the table: the folder's name (`v2`) or the hub id."""
    path = Path(model)
    return path.name if path.exists() else model


def baseline_bm25(k1: float | None, b: float | None) -> tuple[Bm25Params, str]:
    """The k1/b of `--baseline bm25`, and where they came from: `--bm25-k1`/`--bm25-b` when given, else the
    pipeline's one BM25 (params.yaml `bm25`) of the project the command runs in; never a default of its own."""
    if (k1 is None) != (b is None):
        raise InputError("--bm25-k1 and --bm25-b go together (or neither: params.yaml `bm25`)")
    if k1 is not None:
        try:
            return Bm25Params(k1=k1, b=b), "--bm25-k1/--bm25-b"
        except ValidationError as err:
            raise InputError(f"--bm25-k1/--bm25-b: {describe(err, Bm25Params)}") from None
    try:
        return load_params().bm25, "params.yaml bm25"
    except FileNotFoundError as err:
        raise InputError(
            f"--baseline bm25 takes k1 and b from the project's params.yaml (`bm25`): {err}; "
            "or give --bm25-k1 and --bm25-b"
        ) from None


def evaluate_model(
    encoder: SparseEncoder,
    benchmark: Benchmark,
    *,
    model: str,
    benchmark_name: str,
    split: str,
    k: int = 100,
    max_queries: int | None = None,
    bm25: Bm25Params | None = None,
    batch_size: int,
    index_precision: bool = True,
    fit_statistics: bool = True,
    progress: bool = True,
) -> Evaluation:
    """nDCG@10, MRR@10, Recall@100 and sparse cost of `encoder` (and of BM25 with `bm25`'s k1/b, if given) on one split.

    With `fit_statistics` (the default) a lexical-floor model is scored as deploy would index this
    corpus: its BM25 statistics fitted to the corpus (`fit_to_corpus`); otherwise as shipped.
    `max_queries` keeps the first queries in qrels order, as the benchmark stage's cap does.
    """
    from nsparse.eval import BM25Kiwi, SparseRetriever, sparse_cost
    from nsparse.pipeline.fitting import encode_corpus, fit_to_corpus

    queries = dict(list(benchmark.queries.items())[:max_queries])
    qrels = {query_id: benchmark.qrels[query_id] for query_id in queries}
    result = Evaluation(model, benchmark_name, split, len(benchmark.corpus), len(queries), index_precision)

    started = time.perf_counter()
    fitted = fit_statistics and encoder.settings.lexical_floor
    if fitted:
        fit_to_corpus(encoder, benchmark.corpus)
    result.statistics = {"mode": "fitted" if fitted else "as-shipped", "fitted_to": encoder.fitted_corpus}
    doc_ids, doc_matrix = encode_corpus(
        encoder, benchmark.corpus, batch_size, index_precision=index_precision, progress=progress
    )
    encoded = time.perf_counter()
    query_ids = list(queries)
    query_matrix = encoder.encode_queries([queries[query_id] for query_id in query_ids])
    run = SparseRetriever(doc_matrix, doc_ids).search(query_matrix, query_ids, k)
    searched = time.perf_counter()
    result.systems[system_name(model)] = {**_summary(qrels, run), **sparse_cost(query_matrix, doc_matrix)}
    result.timings_s.update(encode_documents=encoded - started, search=searched - encoded)

    if bm25 is not None:
        started = time.perf_counter()
        bm25_run = BM25Kiwi(benchmark.corpus, bm25.k1, bm25.b).search(queries, k)
        result.systems["bm25_kiwi"] = _summary(qrels, bm25_run)
        result.timings_s["bm25"] = time.perf_counter() - started
    result.timings_s = {name: round(seconds, 2) for name, seconds in result.timings_s.items()}
    return result


def _summary(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """`evaluate`'s means; every metric 0 when no query found any document (which ranx cannot score)."""
    from nsparse.eval import DEFAULT_METRICS, evaluate

    if not any(run.values()):
        return dict.fromkeys(DEFAULT_METRICS, 0.0)
    return evaluate(qrels, run).summary
