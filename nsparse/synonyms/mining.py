"""Korean↔English candidate pairs from an aligned corpus by association statistics.

Each aligned paragraph is a bag of Korean content morphemes (`nsparse.korean.analyze`,
Hangul only) and a bag of English words (runs of ASCII letters, lower-cased: Kiwi
glues a sentence-final period to an English word, "cell." for "cell"). A
Korean term and an English word that translate each other occur in the same aligned
paragraphs far more often than chance: Dunning's log-likelihood ratio G² (Dunning,
1993) measures that surprise and ranks the candidates, and the Ochiai coefficient
c / sqrt(n_ko · n_en), the geometric mean of P(en | ko) and P(ko | en), measures how
strongly each side predicts the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import xlogy
from tqdm.auto import tqdm

from nsparse.korean import analyze_batch, has_hangul
from nsparse.params import Verify

ENGLISH_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class CandidatePair:
    ko: str
    en: str
    cooccurrence: int  # aligned paragraphs holding both
    ko_count: int  # paragraphs holding the Korean term
    en_count: int  # paragraphs holding the English word
    log_likelihood: float  # Dunning's G²
    ochiai: float  # c / sqrt(ko_count * en_count)
    ko_rank: int  # rank of `en` among the Korean term's candidates by G² (1 = best)
    en_rank: int  # rank of `ko` among the English word's candidates by G² (1 = best)


def _incidence(token_lists: Iterable[list[str]], keep: Callable[[str], bool]) -> tuple[sp.csr_matrix, list[str]]:
    """Binary paragraph × term matrix over the tokens `keep` accepts."""
    vocabulary: dict[str, int] = {}
    rows, columns = [], []
    for row, tokens in enumerate(token_lists):
        for token in dict.fromkeys(token for token in tokens if keep(token)):  # first-seen order: reproducible ids
            rows.append(row)
            columns.append(vocabulary.setdefault(token, len(vocabulary)))
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(row + 1, len(vocabulary)))
    return matrix, list(vocabulary)


def _frequent_enough(matrix: sp.csr_matrix, terms: list[str], settings: Verify) -> tuple[sp.csc_matrix, list[str]]:
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    keep = np.flatnonzero((counts >= settings.min_count) & (counts <= settings.max_document_ratio * matrix.shape[0]))
    return matrix.tocsc()[:, keep], [terms[index] for index in keep]


def english_words(text: str) -> list[str]:
    return ENGLISH_WORD.findall(text.lower())


def log_likelihood(both: np.ndarray, left: np.ndarray, right: np.ndarray, total: int) -> np.ndarray:
    """Dunning's G² of the 2×2 contingency tables given joint and marginal counts (vectorised)."""
    observed = np.stack([both, left - both, right - both, total - left - right + both]).astype(np.float64)
    row_sums = np.stack([left, left, total - left, total - left]).astype(np.float64)
    column_sums = np.stack([right, total - right, right, total - right]).astype(np.float64)
    expected = row_sums * column_sums / total
    return 2.0 * (xlogy(observed, observed) - xlogy(observed, expected)).sum(axis=0)


def _ranks(groups: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """1-based rank of each score within its group, best (highest) first."""
    order = np.lexsort((-scores, groups))
    sorted_groups = groups[order]
    starts = np.searchsorted(sorted_groups, sorted_groups, side="left")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(len(scores)) - starts + 1
    return ranks


def mine_candidates(paragraphs: Sequence[tuple[str, str]], settings: Verify) -> list[CandidatePair]:
    """Candidates with positive association, the best `candidates_per_term` per Korean term by G².

    A term must occur in at least `min_count` paragraphs (and a pair co-occur as often); terms in more than a
    `max_document_ratio` share of the paragraphs are function words and dropped.
    """
    korean_tokens = tqdm(
        analyze_batch(ko for ko, _ in paragraphs), total=len(paragraphs), desc="analyze ko", disable=None
    )
    korean, korean_terms = _frequent_enough(*_incidence(korean_tokens, has_hangul), settings)
    english_tokens = (english_words(en) for _, en in paragraphs)
    english, english_terms = _frequent_enough(*_incidence(english_tokens, str.isalpha), settings)
    total = len(paragraphs)
    cooccurrence = (korean.T @ english).tocoo()
    both = cooccurrence.data.astype(np.int64)
    ko_counts = np.asarray(korean.sum(axis=0)).ravel().astype(np.int64)[cooccurrence.row]
    en_counts = np.asarray(english.sum(axis=0)).ravel().astype(np.int64)[cooccurrence.col]
    attracted = (both >= settings.min_count) & (both * total > ko_counts * en_counts)  # more than chance
    rows, columns = cooccurrence.row[attracted], cooccurrence.col[attracted]
    both, ko_counts, en_counts = both[attracted], ko_counts[attracted], en_counts[attracted]
    scores = log_likelihood(both, ko_counts, en_counts, total)
    ochiai = both / np.sqrt(ko_counts * en_counts)
    ko_ranks, en_ranks = _ranks(rows, scores), _ranks(columns, scores)
    return [
        CandidatePair(
            korean_terms[rows[i]],
            english_terms[columns[i]],
            int(both[i]),
            int(ko_counts[i]),
            int(en_counts[i]),
            float(scores[i]),
            float(ochiai[i]),
            int(ko_ranks[i]),
            int(en_ranks[i]),
        )
        for i in np.flatnonzero(ko_ranks <= settings.candidates_per_term)
    ]
