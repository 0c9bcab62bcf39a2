"""nsparse.synonyms: verified Korean↔English pairs for code-switched training and OpenSearch.

Candidate mining from an aligned corpus (`mining`), verification offline by statistics
or by an LLM (`verification`), and the verified dictionary's merge, writers and
evaluation (`dictionary`). The verify stage's run that combines them is
`nsparse.pipeline.synonyms`.
"""

from nsparse.synonyms.dictionary import evaluate_pairs, merge_dictionary, write_solr_synonyms, write_verified_dictionary
from nsparse.synonyms.mining import CandidatePair, mine_candidates
from nsparse.synonyms.verification import LLMVerifier, VerifiedPair, frequent_terms, offline_verify, parse_judgement

__all__ = [
    "CandidatePair",
    "LLMVerifier",
    "VerifiedPair",
    "evaluate_pairs",
    "frequent_terms",
    "merge_dictionary",
    "mine_candidates",
    "offline_verify",
    "parse_judgement",
    "write_solr_synonyms",
    "write_verified_dictionary",
]
