"""In-process BM25 over Kiwi morphemes (bm25s): the baseline and the hard-negative miner."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

import bm25s
from tqdm import tqdm

from nsparse.korean import analyze_batch


def document_text(document: str | Mapping[str, str]) -> str:
    """The indexed text of a corpus entry: a plain string, or `title` and `text` joined."""
    if isinstance(document, str):
        return document
    return f"{document.get('title', '')} {document['text']}".strip()


Analyzer = Callable[[Iterable[str]], Iterator[list[str]]]


class BM25Kiwi:
    """BM25 (Lucene variant) over `{doc id: text or {"title","text"}}`, by default on `nsparse.korean.analyze` tokens.

    `k1` and `b` are the pipeline's one BM25 (params.yaml `bm25`), passed by every caller: no second default
    here. Another `analyzer` (texts -> token lists) gives BM25 over other tokens, e.g. a model's own
    vocabulary; `distinct_query_terms` counts each query token once, as inference-free
    sparse queries do.
    """

    def __init__(
        self,
        corpus: Mapping[str, str | Mapping[str, str]],
        k1: float,
        b: float,
        analyzer: Analyzer = analyze_batch,
        distinct_query_terms: bool = False,
    ) -> None:
        if not corpus:
            raise ValueError("BM25Kiwi: empty corpus")
        self.doc_ids = list(corpus)
        self.analyzer = analyzer
        self.distinct_query_terms = distinct_query_terms
        tokens = list(
            tqdm(
                analyzer(document_text(doc) for doc in corpus.values()),
                total=len(corpus),
                desc="BM25 analyze corpus",
                unit="doc",
                disable=None,
            )
        )
        self.index = bm25s.BM25(k1=k1, b=b)
        self.index.index(tokens, show_progress=False)

    def search(self, queries: Mapping[str, str], k: int) -> dict[str, dict[str, float]]:
        """{query id: {doc id: score}}: the top `k` documents sharing a token with the query, best first."""
        if not queries:
            return {}
        query_ids = list(queries)
        tokens = list(self.analyzer(queries[query_id] for query_id in query_ids))
        if self.distinct_query_terms:
            tokens = [sorted(set(query)) for query in tokens]
        documents, scores = self.index.retrieve(tokens, k=min(k, len(self.doc_ids)), show_progress=False)
        return {
            query_id: self._ranking(row_docs, row_scores)
            for query_id, row_docs, row_scores in zip(query_ids, documents, scores, strict=True)
        }

    def _ranking(self, docs: Iterable[int], scores: Iterable[float]) -> dict[str, float]:
        """Matching documents best first, equal scores in id order (bm25s leaves their order unspecified)."""
        hits = [(self.doc_ids[doc], float(score)) for doc, score in zip(docs, scores, strict=True) if score > 0]
        return dict(sorted(hits, key=lambda hit: (-hit[1], hit[0])))
