"""The bilingual dictionary v2 training uses, its OpenSearch synonym file, and its evaluation."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from nsparse.io import atomic_open
from nsparse.synonyms.verification import VerifiedPair

SEED_SOURCE = "muse-seed"


def merge_dictionary(
    verified: Sequence[VerifiedPair], seed: Mapping[str, list[str]], withheld_korean: set[str]
) -> tuple[list[VerifiedPair], int]:
    """Seed pairs (score 1) ∪ verified pairs, without Korean terms withheld for the codeswitch benchmark.

    Returns the entries sorted by Korean term then descending score, and how many were withheld.
    """
    entries: dict[tuple[str, str], VerifiedPair] = {}
    for ko, translations in seed.items():
        for en in translations:
            entries[ko, en.lower()] = VerifiedPair(ko, en.lower(), 1.0, SEED_SOURCE)
    for pair in verified:
        entries.setdefault((pair.ko, pair.en), pair)
    kept = [pair for pair in entries.values() if pair.ko not in withheld_korean]
    kept.sort(key=lambda pair: (pair.ko, -pair.score, pair.en))
    return kept, len(entries) - len(kept)


def write_verified_dictionary(path: str | os.PathLike[str], entries: Iterable[VerifiedPair]) -> None:
    """`ko\\ten\\tscore\\tsource` per line."""
    with atomic_open(path) as handle:
        for pair in entries:
            handle.write(f"{pair.ko}\t{pair.en}\t{pair.score:.4f}\t{pair.source}\n")


def write_solr_synonyms(path: str | os.PathLike[str], entries: Iterable[VerifiedPair]) -> int:
    """Solr synonym lines `ko, en` (equivalence, one pair a line so translations of one term stay apart)."""
    written = 0
    with atomic_open(path) as handle:
        for pair in entries:
            if any(mark in term for term in (pair.ko, pair.en) for mark in (",", "=>", "\\", "#")):
                continue  # would change the meaning of a Solr synonym line
            handle.write(f"{pair.ko}, {pair.en}\n")
            written += 1
    return written


def evaluate_pairs(pairs: Iterable[tuple[str, str]], reference: Mapping[str, list[str]]) -> dict[str, Any]:
    """Precision over pairs whose Korean term the reference covers (the usual BLI protocol), recall over all of it."""
    gold = {(ko, en.lower()) for ko, translations in reference.items() for en in translations}
    predicted = set(pairs)
    evaluated = {pair for pair in predicted if pair[0] in reference}
    correct = len(predicted & gold)
    return {
        "pairs": len(predicted),
        "evaluated": len(evaluated),
        "correct": correct,
        "precision": round(correct / len(evaluated), 4) if evaluated else None,
        "recall": round(correct / len(gold), 4) if gold else None,
        "reference_pairs": len(gold),
    }
