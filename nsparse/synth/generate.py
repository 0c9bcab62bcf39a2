"""LLM query synthesis and paraphrasing, cached per document so an interrupted run resumes.

Each document's replies are stored under `cache_dir/<run key>/<hash of id and text>.json`
as soon as its batch is generated; the run key hashes everything that shapes the
replies (back end, model, prompt files, sampling, counts, seed), so a changed prompt
or model never reuses stale text. Unparseable replies are kept in the cache as raw
text, counted as malformed, and skipped.

A base model (`generator.chat` false) is prompted by plain completion of a few-shot text
(`nsparse.llm.fewshot`): each of a document's queries is one completion, seeded by the
run's seed, the document and the query's index, so a document's queries do not depend on
which other documents ran before it. Base models write no paraphrases (no training data
shows one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from nsparse.io import read_json, write_json
from nsparse.llm import Generator, PromptTemplate, string_list
from nsparse.llm.fewshot import FewShotPrompt
from nsparse.synth.filters import Candidate


@dataclass
class LLMStats:
    cache_hits: int = 0
    generated: int = 0
    malformed: dict[str, int] = field(default_factory=lambda: {"queries": 0, "paraphrases": 0})


@dataclass(frozen=True)
class LLMSynthesis:
    generator: Generator
    query_prompt: PromptTemplate
    paraphrase_prompt: PromptTemplate
    queries_per_document: int
    paraphrases_per_query: int
    max_document_chars: int
    cache_dir: Path
    seed: int
    chunk_size: int = 32  # documents per generate() call: the unit of progress saved to the cache
    fewshot: FewShotPrompt | None = None  # a base model's prompt (generator.chat false)

    def __post_init__(self) -> None:
        if not self.generator.chat and self.fewshot is None:
            raise ValueError(f"{self.generator.model_id} is a base model: query synthesis needs few-shot examples")

    def run_key(self) -> str:
        prompts = [self.query_prompt.sha256, self.paraphrase_prompt.sha256]
        shaping = {
            "backend": self.generator.backend,
            "model": self.generator.model_id,
            "sampling": self.generator.sampling,
            "prompts": prompts if self.generator.chat else [self.fewshot.sha256],  # type: ignore[union-attr]
            "counts": [self.queries_per_document, self.paraphrases_per_query, self.max_document_chars],
            "seed": self.seed,
        }
        return hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def candidates(self, documents: Mapping[str, str]) -> tuple[list[Candidate], LLMStats]:
        """Queries and paraphrases for every document, from the cache where present."""
        folder = self.cache_dir / self.run_key()
        stats = LLMStats()
        entries: dict[str, dict[str, Any]] = {}
        missing = []
        for doc_key in documents:
            path = _cache_path(folder, doc_key, documents[doc_key])
            if path.exists():
                entries[doc_key] = read_json(path)
                stats.cache_hits += 1
            else:
                missing.append(doc_key)
        for start in tqdm(
            range(0, len(missing), self.chunk_size), desc="LLM synthesis", unit="chunk", disable=not missing
        ):
            chunk = missing[start : start + self.chunk_size]
            for doc_key, entry in zip(chunk, self._generate(chunk, documents)):
                write_json(_cache_path(folder, doc_key, documents[doc_key]), entry)
                entries[doc_key] = entry
            stats.generated += len(chunk)

        candidates = []
        for doc_key, text in documents.items():
            entry = entries[doc_key]
            for kind, method in (("queries", "llm"), ("paraphrases", "paraphrase")):
                if entry[kind] is None:
                    stats.malformed[kind] += 1
                    continue
                candidates += [Candidate(doc_key, method, query, text) for query in entry[kind]]
        return candidates, stats

    def _generate(self, doc_keys: Sequence[str], documents: Mapping[str, str]) -> list[dict[str, Any]]:
        if not self.generator.chat:
            return self._complete(doc_keys, documents)
        query_replies = self.generator.generate(
            [
                self.query_prompt.conversation(
                    count=str(self.queries_per_document), document=documents[key][: self.max_document_chars]
                )
                for key in doc_keys
            ],
            json_schema=self.query_prompt.schema,
        )
        entries = [
            {
                "doc_key": key,
                "queries": _limited(string_list(reply, "queries"), self.queries_per_document),
                "paraphrases": [],
                "raw": {"queries": reply, "paraphrases": None},
            }
            for key, reply in zip(doc_keys, query_replies)
        ]
        # Paraphrase only this run's synthetic queries: benchmark queries never reach a prompt.
        with_queries = [entry for entry in entries if entry["queries"]]
        if self.paraphrases_per_query > 0 and with_queries:
            replies = self.generator.generate(
                [
                    self.paraphrase_prompt.conversation(
                        count=str(self.paraphrases_per_query), queries=json.dumps(entry["queries"], ensure_ascii=False)
                    )
                    for entry in with_queries
                ],
                json_schema=self.paraphrase_prompt.schema,
            )
            for entry, reply in zip(with_queries, replies):
                limit = self.paraphrases_per_query * len(entry["queries"])
                entry["paraphrases"] = _limited(string_list(reply, "paraphrases"), limit)
                entry["raw"]["paraphrases"] = reply
        return entries

    def _complete(self, doc_keys: Sequence[str], documents: Mapping[str, str]) -> list[dict[str, Any]]:
        """A base model's queries: `queries_per_document` seeded completions of each document's few-shot prompt."""
        assert self.fewshot is not None
        count = self.queries_per_document
        prompts = [self.fewshot.prompt(documents[key][: self.max_document_chars]) for key in doc_keys]
        replies = self.generator.complete(
            [prompt for prompt in prompts for _ in range(count)],
            self.fewshot.stop,
            [request_seed(self.seed, key, index) for key in doc_keys for index in range(count)],
        )
        entries = []
        for position, key in enumerate(doc_keys):
            mine = replies[position * count : (position + 1) * count]
            queries = list(dict.fromkeys(reply for reply in mine if reply))
            entries.append(
                {
                    "doc_key": key,
                    "queries": queries or None,
                    "paraphrases": [],
                    "raw": {"queries": mine, "paraphrases": None},
                }
            )
        return entries


def request_seed(seed: int, doc_key: str, index: int) -> int:
    """The sampling seed of one completion: fixed by the run's seed, the document and the query's index."""
    return int.from_bytes(hashlib.sha256(f"{seed}\x00{doc_key}\x00{index}".encode()).digest()[:4], "big") >> 1


def _limited(items: list[str] | None, limit: int) -> list[str] | None:
    return items[:limit] if items is not None else None


def _cache_path(folder: Path, doc_key: str, text: str) -> Path:
    """One file per document and text: a re-prepared corpus whose text changed is generated again."""
    digest = hashlib.sha1("\n".join((doc_key, text)).encode()).hexdigest()
    return folder / f"{digest}.json"
