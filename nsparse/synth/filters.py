"""Quality filters for synthetic queries, each counting what it rejects.

A candidate passes, in order: length, language/script, copy overlap, near-duplicate,
and round-trip consistency (InPars/Promptagator: BM25 over the synthesized corpus must
rank the candidate's own positive in the top k). The first failed filter is the one
charged with the rejection, so the counts add up to the candidates.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from nsparse.eval.bm25 import BM25Kiwi
from nsparse.korean import HANGUL, analyze_batch
from nsparse.params import Bm25Params, SynthFilters

FILTERS = ("length", "script", "copy", "duplicate", "round_trip")


@dataclass(frozen=True)
class Candidate:
    """One synthetic query for one document, before filtering."""

    doc_key: str  # "<corpus>/<doc id>": unique across the sampled corpora
    method: str  # ict, keywords, llm, paraphrase
    query: str
    positive: str  # the text the query should retrieve (for ICT: the passage without the query sentence)


def hangul_ratio(text: str) -> float:
    """Share of the words of `text` (those with a letter) written with Hangul: 0 without words.

    Counted per word, not per character, so a code-switched query such as
    "서울 population 통계" counts as mostly Korean although English spends more letters.
    """
    words = [word for word in text.split() if any(char.isalpha() for char in word)]
    return sum(1 for word in words if HANGUL.search(word)) / len(words) if words else 0.0


def copy_ratio(query_tokens: Sequence[str], positive_tokens: Sequence[str]) -> float:
    """Longest token span the query shares verbatim with the positive, as a share of the query."""
    if not query_tokens:
        return 0.0
    match = SequenceMatcher(None, query_tokens, positive_tokens, autojunk=False).find_longest_match()
    return match.size / len(query_tokens)


def jaccard(left: set[str], right: set[str]) -> float:
    return len(left & right) / len(left | right) if left or right else 1.0


class DuplicateFilter:
    """Near-duplicates within a document (token-set Jaccard) and identical token sets across documents.

    Pairwise Jaccard is only needed among one document's few queries; across documents
    an exact token-set match catches the repeated keyword or template queries at O(1) each.
    """

    def __init__(self, max_jaccard: float) -> None:
        self.max_jaccard = max_jaccard
        self.kept_by_doc: dict[str, list[set[str]]] = defaultdict(list)
        self.kept_everywhere: set[frozenset[str]] = set()

    def admit(self, doc_key: str, tokens: Sequence[str]) -> bool:
        """True (and remembered) when `tokens` is new; False for a duplicate."""
        token_set = set(tokens)
        if frozenset(token_set) in self.kept_everywhere:
            return False
        if any(jaccard(token_set, kept) >= self.max_jaccard for kept in self.kept_by_doc[doc_key]):
            return False
        self.kept_by_doc[doc_key].append(token_set)
        self.kept_everywhere.add(frozenset(token_set))
        return True


@dataclass
class FilterOutcome:
    pairs: list[dict[str, Any]]
    counts: dict[str, dict[str, Any]]  # method -> {"candidates", "rejected": {filter: n}, "kept"}
    doc_keys: list[str] = field(
        default_factory=list
    )  # each pair's document ("<corpus>/<doc id>"), kept out of the pairs
    examples: dict[str, list[str]] = field(default_factory=dict)  # "kept" or a filter -> its first queries


EXAMPLES_PER_OUTCOME = 8  # queries shown per outcome in the report: what the filters keep and drop


def filter_candidates(candidates: Sequence[Candidate], settings: SynthFilters, bm25: Bm25Params) -> FilterOutcome:
    """Apply every filter; return the kept training pairs (negatives mined with the pipeline's BM25) and the counts."""
    rejected: dict[str, Counter[str]] = defaultdict(Counter)
    totals = Counter(candidate.method for candidate in candidates)
    query_tokens = list(analyze_batch(candidate.query for candidate in candidates))
    positives = {(candidate.method, candidate.doc_key): candidate.positive for candidate in candidates}
    positive_tokens = dict(zip(positives, analyze_batch(positives.values())))
    duplicates = DuplicateFilter(settings.max_jaccard)

    examples: dict[str, list[str]] = defaultdict(list)

    def example(outcome: str, query: str) -> None:
        if len(examples[outcome]) < EXAMPLES_PER_OUTCOME:
            examples[outcome].append(query)

    survivors: list[Candidate] = []
    for candidate, tokens in zip(candidates, query_tokens):
        if not settings.min_tokens <= len(tokens) <= settings.max_tokens:
            failed = "length"
        elif hangul_ratio(candidate.query) < settings.min_hangul_ratio:
            failed = "script"
        elif copy_ratio(tokens, positive_tokens[candidate.method, candidate.doc_key]) > settings.max_copy_ratio:
            failed = "copy"
        elif not duplicates.admit(candidate.doc_key, tokens):
            failed = "duplicate"
        else:
            survivors.append(candidate)
            continue
        rejected[candidate.method][failed] += 1
        example(failed, candidate.query)

    pairs: list[dict[str, Any]] = []
    doc_keys: list[str] = []
    for method in sorted({candidate.method for candidate in survivors}):
        corpus = {doc_key: text for (corpus_method, doc_key), text in positives.items() if corpus_method == method}
        kept, kept_keys, lost = _round_trip([c for c in survivors if c.method == method], corpus, settings, bm25)
        kept_queries = {pair["query"] for pair in kept}
        for candidate in survivors:
            if candidate.method == method:
                example("kept" if candidate.query in kept_queries else "round_trip", candidate.query)
        pairs += kept
        doc_keys += kept_keys
        rejected[method]["round_trip"] += lost

    counts = {
        method: {
            "candidates": totals[method],
            "rejected": {name: rejected[method][name] for name in FILTERS},
            "kept": totals[method] - sum(rejected[method].values()),
        }
        for method in sorted(totals)
    }
    return FilterOutcome(
        pairs, counts, doc_keys, {name: examples[name] for name in ("kept", *FILTERS) if name in examples}
    )


def _round_trip(
    candidates: Sequence[Candidate], corpus: dict[str, str], settings: SynthFilters, bm25: Bm25Params
) -> tuple[list[dict[str, Any]], list[str], int]:
    """Keep candidates whose positive BM25 ranks in the top k; the best other hits become negatives.

    Returns the pairs, each pair's document key, and how many candidates were dropped.
    """
    if not candidates:
        return [], [], 0
    retriever = BM25Kiwi(corpus, bm25.k1, bm25.b)
    depth = settings.round_trip_top_k + settings.negatives_per_query
    run = retriever.search({str(index): candidate.query for index, candidate in enumerate(candidates)}, k=depth)
    pairs, doc_keys = [], []
    for index, candidate in enumerate(candidates):
        ranking = sorted(run.get(str(index), {}).items(), key=lambda hit: -hit[1])
        top = [doc_key for doc_key, _ in ranking[: settings.round_trip_top_k]]
        if candidate.doc_key not in top:
            continue
        negatives = [corpus[doc_key] for doc_key, _ in ranking if doc_key != candidate.doc_key]
        pairs.append(
            {
                "query": candidate.query,
                "positive": candidate.positive,
                "negatives": negatives[: settings.negatives_per_query],
                "source": f"synthetic:{candidate.method}",
            }
        )
        doc_keys.append(candidate.doc_key)
    return pairs, doc_keys, len(candidates) - len(pairs)
