"""Candidate mining from an aligned corpus: statistics, ranks and input errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from helpers import CONCEPTS, PARAMS, parallel_corpus
from nsparse.data import DataFormatError
from nsparse.data.format import read_parallel
from nsparse.synonyms.mining import log_likelihood, mine_candidates


def test_log_likelihood_matches_scipy_g_test():
    both, left, right, total = np.array([30, 2]), np.array([40, 50]), np.array([35, 60]), 200
    ours = log_likelihood(both, left, right, total)
    for index in range(2):
        table = [
            [both[index], left[index] - both[index]],
            [right[index] - both[index], total - left[index] - right[index] + both[index]],
        ]
        g_statistic = chi2_contingency(table, correction=False, lambda_="log-likelihood")[0]
        assert ours[index] == pytest.approx(g_statistic)


def test_translations_are_mutual_best_candidates_and_function_words_are_dropped():
    candidates = mine_candidates(
        parallel_corpus(), PARAMS.verify.merged({"min_count": 3, "max_document_ratio": 0.9, "candidates_per_term": 2})
    )
    by_pair = {(pair.ko, pair.en): pair for pair in candidates}
    for ko, en in CONCEPTS:
        pair = by_pair[ko, en]
        assert pair.ko_rank == pair.en_rank == 1 and pair.log_likelihood > 0
        assert pair.cooccurrence == pair.ko_count == pair.en_count and pair.ochiai == pytest.approx(1.0)
    assert all(pair.ko_rank <= 2 for pair in candidates)
    # "open"/"select"/"선택" occur in every paragraph (ratio 1 > 0.9): never candidates
    assert not {"open", "select", "the"} & {pair.en for pair in candidates}
    assert "선택" not in {pair.ko for pair in candidates}
    wrong = [pair for pair in candidates if (pair.ko, pair.en) not in CONCEPTS]
    assert wrong and not any(pair.ko_rank == pair.en_rank == 1 for pair in wrong)


def test_read_parallel_names_file_and_line_of_a_bad_record(tmp_path):
    path = tmp_path / "parallel.jsonl"
    path.write_text('{"id": "a", "ko": "파일", "en": "file"}\n{"id": "b", "ko": "셀"}\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"parallel.jsonl:2: expected an object"):
        read_parallel(path)
    path.write_text('{"id": "a", "ko": "파일", "en": "file"}\nnot json\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"parallel.jsonl:2: not valid JSON"):
        read_parallel(path)
