import math

import pytest

from nsparse.eval import EvalResult, evaluate, paired_test

QRELS = {"q1": {"d1": 1, "d2": 1}, "q2": {"d3": 1}, "q3": {"d9": 1}, "q4": {"d1": 1, "d2": 1}}
# q4's only relevant hit sits at rank 11: outside nDCG@10 and MRR@10, inside Recall@100.
RUN = {
    "q1": {"d2": 3.0, "d5": 2.0, "d1": 1.0},
    "q2": {"d4": 2.0, "d3": 1.0},
    "q4": {**{f"x{i}": 20.0 - i for i in range(10)}, "d1": 1.0},
    "unjudged": {"d1": 1.0},
}


def test_metrics_match_hand_computed_values():
    result = evaluate(QRELS, RUN)
    q1_ndcg = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    q2_ndcg = (1 / math.log2(3)) / 1
    expected_per_query = {
        "ndcg@10": {"q1": q1_ndcg, "q2": q2_ndcg, "q3": 0.0, "q4": 0.0},
        "mrr@10": {"q1": 1.0, "q2": 0.5, "q3": 0.0, "q4": 0.0},
        "recall@100": {"q1": 1.0, "q2": 1.0, "q3": 0.0, "q4": 0.5},
    }
    for metric, scores in expected_per_query.items():
        assert result.per_query[metric] == pytest.approx(scores)
        assert result.summary[metric] == pytest.approx(sum(scores.values()) / 4)


def test_evaluate_requires_judgments():
    with pytest.raises(ValueError, match="no judged query"):
        evaluate({}, RUN)


def _result(scores):
    per_query = {f"q{i}": score for i, score in enumerate(scores)}
    return EvalResult(summary={"ndcg@10": sum(scores) / len(scores)}, per_query={"ndcg@10": per_query})


def test_paired_test_finds_a_consistent_difference():
    outcome = paired_test(_result([0.9] * 20), _result([0.2] * 20), "ndcg@10")
    assert outcome["mean_difference"] == pytest.approx(0.7)
    assert outcome["p_value"] < 0.001
    assert outcome["queries"] == 20


def test_paired_test_sees_no_difference_between_equal_systems():
    scores = [0.1, 0.5, 0.9, 0.3] * 5
    outcome = paired_test(_result(scores), _result(scores), "ndcg@10")
    assert outcome["mean_difference"] == 0.0
    assert outcome["p_value"] == pytest.approx(1.0)


def test_paired_test_refuses_different_query_sets():
    with pytest.raises(ValueError, match="different queries"):
        paired_test(_result([0.1, 0.2]), _result([0.1, 0.2, 0.3]), "ndcg@10")
