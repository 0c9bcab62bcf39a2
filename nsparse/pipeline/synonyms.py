"""The `verify` stage's run: mining, verification (offline or LLM), merge with the seed, evaluation, report.

It combines what `nsparse.synonyms` keeps apart: candidates mined from an aligned corpus
(`mining`), verified offline by statistics or by an LLM, which also proposes English
equivalents for frequent Korean terms of the target corpus (`verification`), merged
with the seed dictionary and evaluated against the held-out one (`dictionary`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from nsparse.llm import Generator, PromptTemplate, offline_provenance
from nsparse.llm.fewshot import translation_prompt, translation_shots
from nsparse.params import Verify
from nsparse.synonyms.dictionary import evaluate_pairs, merge_dictionary
from nsparse.synonyms.mining import CandidatePair, mine_candidates
from nsparse.synonyms.verification import (
    LLMVerifier,
    ScoringVerifier,
    VerifiedPair,
    frequent_terms,
    offline_verify,
)


def build_synonyms(
    paragraphs: Sequence[tuple[str, str]],
    params: Verify,
    generator: Generator | None,
    seed: Mapping[str, list[str]],
    heldout: Mapping[str, list[str]],
    withheld_korean: set[str],
    proposal_texts: Sequence[str],
) -> tuple[list[VerifiedPair], dict[str, Any]]:
    """Dictionary entries (verified ∪ seed) and the report: counts, precision/recall per back end, timings."""
    started = time.perf_counter()
    candidates = mine_candidates(paragraphs, params)
    mined = time.perf_counter()
    offline = offline_verify(candidates, params.rank_window, params.min_ochiai)
    report: dict[str, Any] = {
        "paragraphs": len(paragraphs),
        "candidates": {"mined": len(candidates)},
        "verified": {"offline": len(offline)},
        "evaluation": {
            "heldout": {
                "candidates": evaluate_pairs(((pair.ko, pair.en) for pair in candidates), heldout),
                "offline": evaluate_pairs(((pair.ko, pair.en) for pair in offline), heldout),
            },
            # The split the offline threshold was chosen on: shown for transparency, not as a result.
            "seed": {"offline": evaluate_pairs(((pair.ko, pair.en) for pair in offline), seed)},
        },
    }
    if generator is None:
        verified = offline
        report["provenance"] = offline_provenance("G² mutual rank agreement + Ochiai threshold")
    else:
        verified = _llm_verified(candidates, params, generator, proposal_texts, report, seed)
        report["evaluation"]["heldout"]["llm"] = evaluate_pairs(((pair.ko, pair.en) for pair in verified), heldout)
    entries, withheld = merge_dictionary(verified, seed, withheld_korean)
    report["dictionary"] = {
        "entries": len(entries),
        "by_source": dict(Counter(pair.source for pair in entries)),
        "withheld_codeswitch": withheld,
    }
    report["timings_s"] = {"mining": round(mined - started, 2), "verification": round(time.perf_counter() - mined, 2)}
    if generator is not None:
        report["timings_s"]["llm"] = generator.throughput()
    return entries, report


def _llm_verified(
    candidates: Sequence[CandidatePair],
    params: Verify,
    generator: Generator,
    proposal_texts: Sequence[str],
    report: dict[str, Any],
    seed_dictionary: Mapping[str, list[str]],
) -> list[VerifiedPair]:
    verifier: LLMVerifier | ScoringVerifier
    if generator.chat:
        verifier = LLMVerifier(
            generator,
            PromptTemplate.load(params.prompts.verify),
            PromptTemplate.load(params.prompts.propose),
            params.threshold,
        )
    else:  # a base model: few-shot examples from the seed split (never heldout), verdicts by scoring
        shots = translation_shots(seed_dictionary, params.fewshot_shots, 0)
        verifier = ScoringVerifier(generator, translation_prompt(shots), params.threshold, seed=0)
    best = sorted(candidates, key=lambda pair: -pair.log_likelihood)[: params.llm_max_candidates]
    to_verify = {(pair.ko, pair.en): "mined:llm" for pair in best}
    proposals = verifier.propose(frequent_terms(proposal_texts, params.propose_terms)) if proposal_texts else []
    for pair in proposals:
        to_verify.setdefault(pair, "proposed:llm")
    verified = verifier.verify([(ko, en, source) for (ko, en), source in to_verify.items()])
    report["candidates"].update({"llm_verified": len(to_verify), "proposed": len(proposals)})
    report["verified"]["llm"] = len(verified)
    report["malformed"] = verifier.malformed
    report["provenance"] = {
        **generator.provenance(),
        "threshold": params.threshold,
        "prompts": verifier.prompts_provenance(),
    }
    return verified
