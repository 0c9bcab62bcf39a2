"""The documents and queries of a scale run: real ones from the benchmarks, then synthetic documents that join two
real documents' sentences, all encoded by the model as the product encodes them."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from nsparse.data import load_benchmark
from nsparse.tools.scale.settings import ScaleParams

SYNTHETIC_PREFIX = "synthetic-"
SYNTHETIC_CHUNK = 10_000  # documents per seeded chunk: the first N synthetic documents never depend on the total
SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


@dataclass(frozen=True)
class Document:
    """One document as the three indices receive it: text for BM25, vocabulary ids and weights for v2."""

    doc_id: str
    title: str
    text: str
    term_ids: np.ndarray
    weights: np.ndarray
    synthetic: bool


@dataclass(frozen=True)
class EncodedCorpus:
    """Documents (ids, titles and texts) and their v2 vectors, in corpus order."""

    doc_ids: list[str]
    titles: list[str]
    texts: list[str]
    vectors: sp.csr_matrix
    synthetic: bool

    def documents(self, count: int) -> Iterator[Document]:
        for row in range(min(count, len(self.doc_ids))):
            start, end = self.vectors.indptr[row], self.vectors.indptr[row + 1]
            yield Document(
                self.doc_ids[row],
                self.titles[row],
                self.texts[row],
                self.vectors.indices[start:end],
                self.vectors.data[start:end],
                self.synthetic,
            )


def sentences(text: str) -> list[str]:
    """`text` cut after each sentence end (., ?, !) that a space follows; the text itself when it has none."""
    return [part for part in SENTENCE_END.split(text.strip()) if part] or [text]


def recombined_texts(real_texts: Sequence[str], count: int, rng: np.random.Generator) -> list[str]:
    """`count` texts, each a run of sentences from one real text followed by a run from another.

    Each text is as long (in words) as a randomly chosen real text, and its first source gives
    30-70% of it. Runs start at a random sentence and keep the real order, so a synthetic
    document reads as two real passages joined, and carries their topics' term co-occurrence.
    Texts are drawn one after the other from `rng`, so the first n of a larger sample are the same.
    """
    if len(real_texts) < 2:
        raise ValueError(f"recombining needs at least two real texts, not {len(real_texts)}")
    split = [sentences(text) for text in real_texts]
    word_counts = [[len(sentence.split()) for sentence in parts] for parts in split]

    def run(source: int, words: int) -> tuple[list[str], int]:
        """Sentences of real text `source` from a random one on, until they hold `words` words or the text ends."""
        taken, held = [], 0
        for position in range(int(rng.integers(len(split[source]))), len(split[source])):
            taken.append(split[source][position])
            held += word_counts[source][position]
            if held >= words:
                break
        return taken, held

    texts = []
    for _ in range(count):
        target = sum(word_counts[int(rng.integers(len(split)))])
        first, second = (int(source) for source in rng.choice(len(split), size=2, replace=False))
        head, held = run(first, max(1, round(rng.uniform(0.3, 0.7) * target)))
        tail, _ = run(second, max(1, target - held))
        texts.append(" ".join(head + tail))
    return texts


def synthetic_corpus(real_texts: Sequence[str], count: int, seed: int, encoder: Any) -> EncodedCorpus:
    """`count` recombined texts encoded by `encoder`, seeded per chunk: a smaller corpus is a larger one's prefix."""
    from nsparse.pipeline.fitting import encode_corpus

    texts: list[str] = []
    for chunk in range(math.ceil(count / SYNTHETIC_CHUNK)):
        rng = np.random.default_rng([seed, chunk])
        texts += recombined_texts(real_texts, min(SYNTHETIC_CHUNK, count - len(texts)), rng)
    doc_ids = [f"{SYNTHETIC_PREFIX}{number:07d}" for number in range(count)]
    _, vectors = encode_corpus(encoder, {doc_id: {"title": "", "text": text} for doc_id, text in zip(doc_ids, texts)})
    return EncodedCorpus(doc_ids, [""] * count, texts, vectors, synthetic=True)


def corpus_documents(real: EncodedCorpus, synthetic: EncodedCorpus, size: int) -> Iterator[Document]:
    """The first `size` documents: the real ones, then synthetic ones."""
    yield from real.documents(size)
    yield from synthetic.documents(max(0, size - len(real.doc_ids)))


@dataclass(frozen=True)
class EncodedQueries:
    query_ids: list[str]
    texts: list[str]
    vectors: sp.csr_matrix


def load_real(params: ScaleParams, encoder: Any, limit: int) -> tuple[EncodedCorpus, EncodedQueries]:
    """Up to `limit` real documents of `params.corpora` encoded by the model, and the real queries, encoded too."""
    from nsparse.pipeline.fitting import encode_corpus

    corpus: dict[str, dict[str, str]] = {}
    queries: dict[str, str] = {}
    per_corpus = math.ceil(params.queries / len(params.corpora))
    for name in params.corpora:
        bench = load_benchmark(Path(params.benchmarks_dir) / name, params.split)
        corpus.update({f"{name}:{doc_id}": doc for doc_id, doc in bench.corpus.items()})
        queries.update({f"{name}:{qid}": text for qid, text in list(bench.queries.items())[:per_corpus]})
    corpus = dict(list(corpus.items())[:limit])
    doc_ids, vectors = encode_corpus(encoder, corpus)
    query_texts = list(queries.values())[: params.queries]
    real = EncodedCorpus(
        doc_ids,
        [corpus[d]["title"] for d in doc_ids],
        [corpus[d]["text"] for d in doc_ids],
        vectors,
        synthetic=False,
    )
    return real, EncodedQueries(list(queries)[: params.queries], query_texts, encoder.encode_queries(query_texts))
