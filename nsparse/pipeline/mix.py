"""Assemble model v2's training set: original pairs + synthetic pairs + code-switched copies.

Korean users mix languages in queries ("파이썬 install 방법"); code-switched copies of Korean
training queries, made with the verified Korean→English dictionary, teach the encoder to
match such queries to Korean documents.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from tqdm import tqdm

from nsparse.codeswitch import code_switch
from nsparse.korean import has_hangul
from nsparse.params import Mix


def code_switched_copies(
    pairs: list[dict[str, Any]], dictionary: dict[str, list[str]], rate: float, share: float, rng: random.Random
) -> list[dict[str, Any]]:
    """For a `share` of the Korean pairs, a copy whose query has words switched to English (kept only if changed)."""
    copies = []
    for pair in tqdm(pairs, desc="code-switching", unit="pair", leave=False):
        if not has_hangul(pair["query"]) or rng.random() >= share:
            continue
        switched = code_switch(pair["query"], dictionary, rate, rng)
        if switched != pair["query"]:
            copies.append({**pair, "query": switched, "source": f"{pair['source']}+codeswitch"})
    return copies


def build_mixture(
    original: list[dict[str, Any]],
    synthetic: list[dict[str, Any]],
    dictionary: dict[str, list[str]],
    params: Mix,
    seed: int,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The shuffled v2 training set and its composition by source."""
    rng = random.Random(seed)
    synthetic = synthetic[: params.max_synthetic] if params.max_synthetic is not None else synthetic
    base = original + synthetic
    mixture = base + code_switched_copies(base, dictionary, params.codeswitch_rate, params.codeswitch_share, rng)
    rng.shuffle(mixture)
    return mixture, dict(Counter(pair["source"] for pair in mixture))
