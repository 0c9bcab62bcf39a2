"""Deciding which candidate pairs are translations: offline by statistics, or by an LLM.

Offline score (no LLM): a candidate is verified when both sides rank each other among
their best `rank_window` partners by G² (rank agreement: the pair is each side's
preferred translation, not just a frequent companion) and its Ochiai coefficient, the
geometric mean of P(en | ko) and P(ko | en), reaches `min_ochiai` (bidirectional
strength). The threshold was chosen on the MUSE seed (train) split, never on the
held-out split that measures it. The pair's score is its Ochiai coefficient.

LLM: each candidate is asked as a yes/no question with a confidence; "yes" at or above
`threshold` verifies it, and the confidence is its score. The LLM also proposes English
equivalents for frequent Korean terms of the target corpus (`frequent_terms`), verified
the same way.

Base model (`ScoringVerifier`): no free text is parsed. A few-shot translation prompt
built from the seed split (`nsparse.llm.fewshot.translation_prompt`) ends with "한국어:
학교\n영어:", and the confidence is the probability that the model writes exactly the
candidate there and ends the example: P(" school\n\n" | prompt), from its
log-probabilities. Proposals are the greedy completions of the same prompt. (A yes/no
question scored as P(" 예") against P(" 아니오") hardly separated true from false pairs
with Gemma 3 270M: see scripts/gemma_probe.py.)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nsparse.korean import analyze_batch, has_hangul
from nsparse.llm import Generator, PromptTemplate, extract_json, string_list
from nsparse.llm.fewshot import FewShotPrompt
from nsparse.synonyms.mining import CandidatePair

CONTEXT_CHARS = 80  # characters either side of a term shown to the LLM as its context


@dataclass(frozen=True)
class VerifiedPair:
    ko: str
    en: str
    score: float
    source: str  # mined:offline, mined:llm, proposed:llm


def offline_verify(candidates: Sequence[CandidatePair], rank_window: int, min_ochiai: float) -> list[VerifiedPair]:
    return [
        VerifiedPair(pair.ko, pair.en, round(pair.ochiai, 4), "mined:offline")
        for pair in candidates
        if pair.ko_rank <= rank_window and pair.en_rank <= rank_window and pair.ochiai >= min_ochiai
    ]


def parse_judgement(reply: str) -> tuple[bool, float] | None:
    """(is a translation, confidence) from `{"answer": "yes"|"no", "confidence": 0..1}`; None if malformed."""
    value = extract_json(reply)
    if not isinstance(value, dict):
        return None
    answer, confidence = str(value.get("answer", "")).strip().lower(), value.get("confidence")
    if answer not in ("yes", "no") or isinstance(confidence, bool) or not isinstance(confidence, int | float):
        return None
    if not 0.0 <= confidence <= 1.0:
        return None
    return answer == "yes", float(confidence)


@dataclass
class LLMVerifier:
    generator: Generator
    verify_prompt: PromptTemplate
    propose_prompt: PromptTemplate
    threshold: float
    malformed: dict[str, int] = field(default_factory=lambda: {"verify": 0, "propose": 0})

    def propose(self, contexts: Mapping[str, str]) -> list[tuple[str, str]]:
        """(ko, en) proposals for each Korean term, given a sentence where it occurs."""
        replies = self.generator.generate(
            [self.propose_prompt.conversation(korean=term, context=context) for term, context in contexts.items()],
            json_schema=self.propose_prompt.schema,
        )
        proposals = []
        for term, reply in zip(contexts, replies):
            words = string_list(reply, "english")
            if words is None:
                self.malformed["propose"] += 1
                continue
            proposals += _english_words(term, words)
        return proposals

    def verify(self, pairs: Sequence[tuple[str, str, str]]) -> list[VerifiedPair]:
        """The (ko, en, source) pairs the LLM accepts with at least `threshold` confidence."""
        replies = self.generator.generate(
            [self.verify_prompt.conversation(korean=ko, english=en) for ko, en, _ in pairs],
            json_schema=self.verify_prompt.schema,
        )
        verified = []
        for (ko, en, source), reply in zip(pairs, replies):
            judgement = parse_judgement(reply)
            if judgement is None:
                self.malformed["verify"] += 1
            elif judgement[0] and judgement[1] >= self.threshold:
                verified.append(VerifiedPair(ko, en, judgement[1], source))
        return verified

    def prompts_provenance(self) -> list[dict[str, Any]]:
        return [self.verify_prompt.provenance(), self.propose_prompt.provenance()]


def _english_words(term: str, words: Sequence[str]) -> list[tuple[str, str]]:
    return [(term, word.lower()) for word in words if word.isascii() and word.isalpha()]


@dataclass
class ScoringVerifier:
    """A base model's verification: answer log-probabilities, never parsed text (see the module docstring)."""

    generator: Generator
    translate_prompt: FewShotPrompt
    threshold: float
    seed: int  # of the greedy proposals
    malformed: dict[str, int] = field(default_factory=lambda: {"verify": 0, "propose": 0})

    def confidence(self, ko: str, en: str) -> float:
        """P(the model translates `ko` as exactly `en`): the word, then the end of the example."""
        prompt = self.translate_prompt
        return math.exp(self.generator.logprob(prompt.prompt(ko), f" {en}{prompt.separator}"))

    def propose(self, contexts: Mapping[str, str]) -> list[tuple[str, str]]:
        """(ko, en) from a greedy completion of the translation prompt for each Korean term."""
        replies = self.generator.complete(
            [self.translate_prompt.prompt(term) for term in contexts],
            self.translate_prompt.stop,
            [self.seed] * len(contexts),
            temperature=0.0,
        )
        proposals = []
        for term, reply in zip(contexts, replies):
            words = reply.replace(",", " ").split()[:1]
            if not words:
                self.malformed["propose"] += 1
            proposals += _english_words(term, words)
        return proposals

    def verify(self, pairs: Sequence[tuple[str, str, str]]) -> list[VerifiedPair]:
        scored = [(ko, en, source, self.confidence(ko, en)) for ko, en, source in pairs]
        return [
            VerifiedPair(ko, en, round(score, 4), source) for ko, en, source, score in scored if score >= self.threshold
        ]

    def prompts_provenance(self) -> list[dict[str, Any]]:
        return [self.translate_prompt.provenance()]


def frequent_terms(texts: Sequence[str], count: int) -> dict[str, str]:
    """The `count` Korean terms in most texts, each with a snippet of the first text containing it.

    Terms of one syllable (mostly bound nouns and light verbs: 것, 수, 하) are skipped:
    they have no English equivalent worth proposing.
    """
    document_frequency: Counter[str] = Counter()
    for tokens in analyze_batch(texts):
        # Distinct terms in first-seen order (a set's order would vary with PYTHONHASHSEED and break ties).
        document_frequency.update(
            list(dict.fromkeys(token for token in tokens if has_hangul(token) and len(token) > 1))
        )
    contexts = {}
    for term, _ in document_frequency.most_common(count):
        text = next((text for text in texts if term in text), "")
        position = max(text.find(term), 0)
        contexts[term] = text[max(position - CONTEXT_CHARS, 0) : position + len(term) + CONTEXT_CHARS]
    return contexts
