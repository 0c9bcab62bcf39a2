"""Offline (no-LLM) pseudo-queries from published self-supervised methods.

* `ict`: the inverse cloze task (Lee et al., 2019, "Latent Retrieval for Weakly
  Supervised Open Domain QA"): a sentence of the passage is the pseudo-query and the
  rest of the passage its positive. Lee et al. keep the sentence in 10% of the
  passages; here it is always removed, because a kept sentence is a verbatim copy the
  copy-overlap filter rejects. Removing it is what makes ICT useful for a sparse
  model: the query's words that do not occur in the rest of the passage can only be
  matched by learning expansion terms from context.
* `keywords`: salient-term keyword queries, after PROP (Ma et al., 2021, "PROP:
  Pre-training with Representative Words Prediction"), whose pseudo-queries are sets
  of a document's representative words: here a few of its highest TF-IDF content
  morphemes in random order. They imitate the short keyword queries
  Korean users type and teach term weighting, which ICT's long sentences do not.

Independent cropping (Contriever) is left out: its spans overlap the positive
lexically almost everywhere, which teaches a sparse model little that BM25 weighting
does not already give it.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping

from nsparse.korean import analyze_batch, kiwi
from nsparse.synth.filters import Candidate


def ict_candidates(documents: Mapping[str, str], per_document: int, rng: random.Random) -> list[Candidate]:
    """Up to `per_document` sentences of each document as queries, all removed from its positive.

    One positive per document (the passage minus every sentence used as a query) keeps
    the round-trip filter honest: none of the document's queries occurs verbatim in it.
    A document keeps at least one sentence, so single-sentence documents give nothing.
    """
    candidates = []
    for doc_key, sentences in zip(documents, kiwi().split_into_sents(documents.values())):
        count = min(per_document, len(sentences) - 1)
        if count <= 0:
            continue
        chosen = sorted(rng.sample(range(len(sentences)), count))
        text = documents[doc_key]
        positive = text
        for index in reversed(chosen):  # cut from the end so earlier offsets stay valid
            positive = positive[: sentences[index].start] + positive[sentences[index].end :]
        positive = " ".join(positive.split())
        candidates += [Candidate(doc_key, "ict", sentences[index].text.strip(), positive) for index in chosen]
    return candidates


def keyword_candidates(
    documents: Mapping[str, str], per_document: int, term_range: tuple[int, int], rng: random.Random, pool: int = 8
) -> list[Candidate]:
    """`per_document` keyword queries each of a random `term_range` count of the top-`pool` TF-IDF terms."""
    token_lists = list(analyze_batch(documents.values()))
    document_frequency = Counter(term for tokens in token_lists for term in set(tokens))
    total = len(token_lists)
    candidates = []
    for doc_key, tokens in zip(documents, token_lists):
        counts = Counter(token for token in tokens if not token.isdigit())
        ranked = sorted(counts, key=lambda term: (-counts[term] * math.log(total / document_frequency[term]), term))
        salient = ranked[:pool]
        for _ in range(per_document):
            size = min(rng.randint(*term_range), len(salient))
            if size:
                candidates.append(
                    Candidate(doc_key, "keywords", " ".join(rng.sample(salient, size)), documents[doc_key])
                )
    return candidates
