"""A trained model fitted to the corpus it will index: BM25's statistics from that corpus, what training learned kept.

Deploy, `nsparse evaluate` and the benchmark's exact side all fit through here, so the
three score a corpus with the same statistics.
"""

from __future__ import annotations

from collections.abc import Mapping

from nsparse.eval.bm25 import document_text
from nsparse.model.encoder import SparseEncoder


def fit_to_corpus(encoder: SparseEncoder, corpus: Mapping[str, Mapping[str, str]]) -> dict[str, object]:
    """Fit the encoder's BM25 statistics (IDF, mean length) to `corpus`'s documents (title and text), in its order.

    What training learned (query-weight multipliers, translations) stays; returns the fitted corpus's record.
    """
    return encoder.fit_lexical_statistics([document_text(document) for document in corpus.values()])


def parity_sample(corpus: Mapping[str, Mapping[str, str]], size: int = 32) -> list[str]:
    """Texts to check an export of a corpus's model on: its first documents and its longest one."""
    texts = [document_text(document) for document in corpus.values()]
    return [*texts[: size - 1], max(texts, key=len)] if texts else []
