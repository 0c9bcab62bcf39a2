"""The one generation interface every back end implements.

Synthesis and synonym verification only ever call `Generator.generate` on chat
conversations and read `Generator.provenance`, so a run can switch between a local
model, an OpenAI-compatible server and an in-process GGUF model from params.yaml alone.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from nsparse.params import Llm

Message = dict[str, str]
Conversation = list[Message]

# The `llm` settings a single call may override (e.g. greedy proposals), in the order provenance records them.
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "max_new_tokens")

_THINK_BLOCK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)


def strip_thinking(text: str) -> str:
    """Drop `<think>…</think>` blocks (and an unterminated trailing one): only the answer is kept."""
    return _THINK_BLOCK.sub("", text).strip()


@dataclass
class GenerationStats:
    """Running totals: what was generated (`as_dict`, provenance) and how fast (`throughput`).

    The two are kept apart because provenance goes into reports whose DVC hashes must
    reproduce run to run, while seconds, rates and memory differ on every run.
    """

    requests: int = 0
    failed_requests: int = 0
    generated_tokens: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failed_requests": self.failed_requests,
            "generated_tokens": self.generated_tokens,
            **self.extra,
        }

    def throughput(self) -> dict[str, Any]:
        tokens_per_s = self.generated_tokens / self.seconds if self.seconds > 0 else None
        return {
            "seconds": round(self.seconds, 3),
            "tokens_per_s": round(tokens_per_s, 2) if tokens_per_s is not None else None,
            **self.measured,
        }


class Generator(ABC):
    """Turns chat conversations into assistant replies (one string per conversation).

    A base model (pre-trained, not chat-tuned) sets `chat = False`: callers then prompt it by
    plain completion of few-shot text (`complete`) and judge by scoring (`logprob`).
    """

    backend: str
    chat: bool = True

    def __init__(self, llm: Llm) -> None:
        self.model_id = llm.model
        self.sampling: dict[str, Any] = {key: getattr(llm, key) for key in SAMPLING_KEYS}
        self.stats = GenerationStats()

    @abstractmethod
    def generate(
        self, conversations: Sequence[Conversation], json_schema: dict[str, Any] | None = None, **sampling: Any
    ) -> list[str]:
        """Replies in input order; `json_schema` asks for structured output where the back end supports it.

        A reply the back end could not produce is an empty string (callers count it as malformed).
        """

    def complete(self, prompts: Sequence[str], stop: Sequence[str], seeds: Sequence[int], **sampling: Any) -> list[str]:
        """Plain completions of `prompts` (no chat template), cut at the first of `stop`; `seeds[i]` seeds prompt i."""
        raise NotImplementedError(f"the {self.backend} back end prompts chat models only")

    def logprob(self, prompt: str, continuation: str) -> float:
        """log P(continuation | prompt) under the model (natural log, summed over the continuation's tokens)."""
        raise NotImplementedError(f"the {self.backend} back end does not score text")

    def provenance(self) -> dict[str, Any]:
        """What produced the text: back end, model, sampling and counts (no wall-clock figures)."""
        return {"backend": self.backend, "model": self.model_id, "sampling": self.sampling, **self.stats.as_dict()}

    def throughput(self) -> dict[str, Any]:
        """How fast and with how much memory: seconds, tokens/s, back-end rates, GPU memory."""
        return self.stats.throughput()

    def _sampling(self, overrides: dict[str, Any]) -> dict[str, Any]:
        unknown = set(overrides) - set(SAMPLING_KEYS)
        if unknown:
            raise TypeError(f"unknown sampling option(s) {sorted(unknown)}; known: {sorted(SAMPLING_KEYS)}")
        return {**self.sampling, **overrides}

    @contextmanager
    def _timed(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stats.seconds += time.perf_counter() - start
