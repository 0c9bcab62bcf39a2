"""Retrieval metrics through ranx, with per-query scores kept for paired significance tests."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from ranx import Qrels, Run
from ranx import evaluate as ranx_evaluate
from scipy.stats import permutation_test

DEFAULT_METRICS = ("ndcg@10", "mrr@10", "recall@100")

RunScores = Mapping[str, Mapping[str, float]]  # query id -> {doc id: score}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalResult:
    """Mean of each metric over the judged queries, and each query's own score."""

    summary: dict[str, float]
    per_query: dict[str, dict[str, float]]  # metric -> {query id: score}
    excluded: tuple[str, ...] = ()  # judged queries left out: none of their judgments is relevant (score > 0)


def relevant_only(qrels: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """The relevant judgments (score > 0) of each query that has at least one.

    Why: a judgment with score <= 0 says "not relevant". A query whose judgments are
    all non-relevant cannot be scored (nDCG and recall are undefined, ranx says 0),
    so, as BEIR's tools do, it is left out of the mean instead of dragging it down.
    """
    relevant = {qid: {doc: score for doc, score in judged.items() if score > 0} for qid, judged in qrels.items()}
    return {qid: judged for qid, judged in relevant.items() if judged}


def evaluate(
    qrels: Mapping[str, Mapping[str, int]],
    run: RunScores,
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> EvalResult:
    """Score `run` against `qrels`; a judged query the run lacks scores 0, unjudged run queries are ignored.

    Judgments with score <= 0 are non-relevant; queries without any relevant judgment
    are left out, logged, and listed in `EvalResult.excluded` (see `relevant_only`).
    """
    if not qrels:
        raise ValueError("evaluate: qrels hold no judged query")
    relevant = relevant_only(qrels)
    excluded = tuple(sorted(qrels.keys() - relevant.keys()))
    if excluded:
        log.warning(
            "evaluate: %d of %d judged queries have no relevant judgment (score > 0) and are left out, e.g. %s",
            len(excluded),
            len(qrels),
            list(excluded[:3]),
        )
    if not relevant:
        raise ValueError(f"evaluate: none of the {len(qrels)} judged queries has a relevant judgment (score > 0)")
    qrels = relevant
    ranx_qrels = Qrels({query_id: dict(judged) for query_id, judged in qrels.items()})
    ranx_run = Run({query_id: dict(ranking) for query_id, ranking in run.items() if ranking})
    ranx_evaluate(ranx_qrels, ranx_run, list(metrics), make_comparable=True)
    per_query = {
        metric: {query_id: float(ranx_run.scores[metric].get(query_id, 0.0)) for query_id in qrels}
        for metric in metrics
    }
    summary = {metric: float(np.mean(list(scores.values()))) for metric, scores in per_query.items()}
    return EvalResult(summary=summary, per_query=per_query, excluded=excluded)


def paired_test(
    result_a: EvalResult,
    result_b: EvalResult,
    metric: str,
    resamples: int = 10_000,
    seed: int = 0,
) -> dict[str, float | int | str]:
    """Two-sided paired randomisation test of mean(a - b) on `metric` over the same queries."""
    scores_a, scores_b = result_a.per_query[metric], result_b.per_query[metric]
    if scores_a.keys() != scores_b.keys():
        raise ValueError(f"paired_test: the two results cover different queries ({len(scores_a)} vs {len(scores_b)})")
    query_ids = sorted(scores_a)
    a = np.array([scores_a[query_id] for query_id in query_ids])
    b = np.array([scores_b[query_id] for query_id in query_ids])
    test = permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=resamples,
        alternative="two-sided",
        random_state=seed,
    )
    return {
        "metric": metric,
        "queries": len(query_ids),
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "mean_difference": float(test.statistic),
        "p_value": float(test.pvalue),
    }
