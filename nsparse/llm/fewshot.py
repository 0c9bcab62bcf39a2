"""Few-shot text prompts for base models (no chat template): examples, then the open case.

A base model continues text, so the task is shown, not told: a header line and a few
solved examples in one fixed layout (`문서: …` / `질문: …`), then the new input with its
answer label left open. The model's continuation up to the stop sequence (a new line)
is the answer. Every prompt of a run starts with the same prefix, which llama.cpp keeps
in its KV cache between prompts.

The examples come from training data only: query shots from the training pairs
(`data/train/pairs.jsonl`), minus every pair whose query is a benchmark query (any
split: dev and test queries never reach a prompt); translation shots from the MUSE seed
split, never the held-out one.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nsparse.data.format import read_queries


@dataclass(frozen=True)
class FewShotPrompt:
    header: str
    labels: tuple[str, str]  # (input label, answer label)
    shots: tuple[tuple[str, str], ...]
    stop: tuple[str, ...] = ("\n",)
    separator = "\n\n"  # between examples: what follows an answer (one token for Gemma's tokenizer)

    def _case(self, source: str, answer: str | None = None) -> str:
        text = f"{self.labels[0]}: {source}\n{self.labels[1]}:"
        return text if answer is None else f"{text} {answer}"

    @property
    def prefix(self) -> str:
        """The text every prompt starts with: the header and the solved examples."""
        cases = [self._case(source, answer) for source, answer in self.shots]
        return self.separator.join([self.header, *cases]) + self.separator

    def prompt(self, source: str) -> str:
        """The prefix, then `source` with the answer label open (the model writes after the colon)."""
        return self.prefix + self._case(" ".join(source.split()))

    @property
    def sha256(self) -> str:
        return hashlib.sha256((self.prefix + "\x00".join(self.stop)).encode("utf-8")).hexdigest()

    def provenance(self) -> dict[str, Any]:
        return {"kind": "few-shot completion", "sha256": self.sha256, "prefix": self.prefix, "stop": list(self.stop)}


def benchmark_queries(benchmarks: Path) -> set[str]:
    """Every query text of every benchmark under `benchmarks` (all splits), whitespace-normalized."""
    return {
        " ".join(text.split())
        for path in sorted(benchmarks.glob("*/queries.jsonl"))
        for text in read_queries(path).values()
    }


def query_shots(
    pairs: Iterable[Mapping[str, Any]],
    excluded_queries: set[str],
    count: int,
    seed: int,
    max_chars: int = 300,
    keep: Callable[[str], bool] = lambda query: True,
) -> tuple[tuple[str, str], ...]:
    """`count` (passage, query) training pairs with short passages and a query `keep` accepts, none whose query
    is in `excluded_queries`. (v1's pairs include English queries of Korean passages: shown one, a base model
    writes English; the synthesize stage keeps queries its language filter would keep.)"""
    eligible = sorted(
        {
            (" ".join(pair["positive"].split()), " ".join(pair["query"].split()))
            for pair in pairs
            if pair.get("query") and pair.get("positive") and len(pair["positive"]) <= max_chars
        }
    )
    eligible = [(passage, query) for passage, query in eligible if query not in excluded_queries and keep(query)]
    if len(eligible) < count:
        raise ValueError(f"only {len(eligible)} training pairs can be few-shot examples; {count} wanted")
    return tuple(random.Random(seed).sample(eligible, count))


def document_query_prompt(shots: Sequence[tuple[str, str]]) -> FewShotPrompt:
    return FewShotPrompt("다음은 문서와, 그 문서를 찾는 사용자의 검색 질문입니다.", ("문서", "질문"), tuple(shots))


def translation_shots(
    seed_dictionary: Mapping[str, Sequence[str]], count: int, seed: int
) -> tuple[tuple[str, str], ...]:
    """`count` (Korean, English) pairs of the seed dictionary (one English word each)."""
    pairs = sorted((ko, words[0]) for ko, words in seed_dictionary.items() if words and len(ko) > 1)
    return tuple(random.Random(seed).sample(pairs, min(count, len(pairs))))


def translation_prompt(shots: Sequence[tuple[str, str]]) -> FewShotPrompt:
    return FewShotPrompt("한국어 단어와 같은 뜻의 영어 단어:", ("한국어", "영어"), tuple(shots))
