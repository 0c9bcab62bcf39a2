"""nsparse.synth: synthetic training queries for the user's own documents.

With an LLM (`transformers`, `openai`, `llama_cpp`), queries and paraphrases are
generated from few-shot Korean prompts (InPars, Promptagator). With the `offline` back
end, pseudo-queries come from published self-supervised methods (see `selfsupervised`).
Either way every candidate goes through the same quality filters, and the report counts
what each filter rejected, per method.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nsparse.llm import Generator, PromptTemplate, offline_provenance
from nsparse.synth.filters import FILTERS, Candidate, FilterSettings, filter_candidates
from nsparse.synth.generate import LLMSynthesis
from nsparse.synth.selfsupervised import ict_candidates, keyword_candidates

OFFLINE_METHODS = ("ict", "keywords")

__all__ = ["OFFLINE_METHODS", "sample_documents", "synthesize", "synthesize_with_sources"]


def sample_documents(
    corpora: Mapping[str, Mapping[str, Mapping[str, str]]], per_corpus: int, seed: int
) -> dict[str, str]:
    """Up to `per_corpus` documents of each corpus, as {"<corpus>/<doc id>": text}, reproducibly.

    A text already sampled (corpora share passages, e.g. distractors) is skipped: a twin
    would tie with the positive in the round trip and come back as its "negative".
    """
    rng = random.Random(seed)
    documents: dict[str, str] = {}
    seen: set[str] = set()
    for name, corpus in corpora.items():
        doc_ids = sorted(corpus)
        for doc_id in sorted(rng.sample(doc_ids, min(per_corpus, len(doc_ids)))):
            text = corpus[doc_id]["text"]
            if text not in seen:
                seen.add(text)
                documents[f"{name}/{doc_id}"] = text
    return documents


def synthesize(
    documents: Mapping[str, str], params: Mapping[str, Any], generator: Generator | None, seed: int, cache_dir: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Training pairs for `documents` and the report (provenance, counts per filter and method, timings)."""
    pairs, _, report = synthesize_with_sources(documents, params, generator, seed, cache_dir)
    return pairs, report


def synthesize_with_sources(
    documents: Mapping[str, str], params: Mapping[str, Any], generator: Generator | None, seed: int, cache_dir: Path
) -> tuple[list[dict[str, Any]], list[str], dict[str, Any]]:
    """`synthesize`, plus each pair's document key: what holding out documents' queries needs."""
    started = time.perf_counter()
    rng = random.Random(seed)
    report: dict[str, Any] = {"documents": len(documents)}
    if generator is None:
        candidates = _offline_candidates(documents, params, rng)
        report["provenance"] = offline_provenance("+".join(params["offline_methods"]))
    else:
        synthesis = LLMSynthesis(
            generator,
            PromptTemplate.load(params["prompts"]["queries"]),
            PromptTemplate.load(params["prompts"]["paraphrases"]),
            queries_per_document=params["queries_per_document"],
            paraphrases_per_query=params["paraphrases_per_query"],
            max_document_chars=params["max_document_chars"],
            cache_dir=cache_dir,
            seed=seed,
        )
        candidates, stats = synthesis.candidates(documents)
        report["provenance"] = {
            **generator.provenance(),
            "prompts": [synthesis.query_prompt.provenance(), synthesis.paraphrase_prompt.provenance()],
        }
        report["cache"] = {"hits": stats.cache_hits, "generated": stats.generated, "run_key": synthesis.run_key()}
        report["malformed"] = stats.malformed
    generated = time.perf_counter()
    outcome = filter_candidates(candidates, FilterSettings.from_params(params["filters"]))
    report["methods"] = outcome.counts
    report["candidates"] = len(candidates)
    report["kept"] = len(outcome.pairs)
    report["rejected"] = {name: sum(counts["rejected"][name] for counts in outcome.counts.values()) for name in FILTERS}
    report["timings_s"] = {
        "generation": round(generated - started, 2),
        "filtering": round(time.perf_counter() - generated, 2),
    }
    return outcome.pairs, outcome.doc_keys, report


def _offline_candidates(documents: Mapping[str, str], params: Mapping[str, Any], rng: random.Random) -> list[Candidate]:
    unknown = set(params["offline_methods"]) - set(OFFLINE_METHODS)
    if unknown:
        raise ValueError(f"synthesize.offline_methods: unknown {sorted(unknown)}; known: {OFFLINE_METHODS}")
    per_document = params["queries_per_document"]
    candidates: list[Candidate] = []
    if "ict" in params["offline_methods"]:
        candidates += ict_candidates(documents, per_document, rng)
    if "keywords" in params["offline_methods"]:
        low, high = params["keyword_terms"]
        candidates += keyword_candidates(documents, per_document, (low, high), rng)
    return candidates
