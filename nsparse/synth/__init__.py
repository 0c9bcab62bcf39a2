"""nsparse.synth: the parts of query synthesis, each usable alone.

LLM generation of queries and paraphrases from few-shot Korean prompts (`generate`:
InPars, Promptagator), self-supervised pseudo-queries without an LLM (`selfsupervised`),
and the quality filters every candidate goes through (`filters`). The synthesize stage's
run that combines them is `nsparse.pipeline.synthesize`.
"""

from nsparse.synth.filters import FILTERS, Candidate, FilterOutcome, filter_candidates
from nsparse.synth.generate import LLMStats, LLMSynthesis
from nsparse.synth.selfsupervised import ict_candidates, keyword_candidates

__all__ = [
    "FILTERS",
    "Candidate",
    "FilterOutcome",
    "LLMStats",
    "LLMSynthesis",
    "filter_candidates",
    "ict_candidates",
    "keyword_candidates",
]
