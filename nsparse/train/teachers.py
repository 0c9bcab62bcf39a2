"""Teachers for distillation: scores of each pair's candidates, computed once before training.

A teacher scores `[positive, *negatives]` of every pair; `attach_teacher_scores` stores
them inline (`teacher_scores`), so the training loop needs no teacher at run time and
resumes without recomputing it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from nsparse.model.encoder import SparseEncoder
from nsparse.params import Bm25Params


class Teacher(Protocol):
    def score(self, queries: list[str], candidates: list[list[str]]) -> list[list[float]]:
        """For each query, one score per candidate text."""


def _unique_texts(candidates: list[list[str]]) -> tuple[list[str], list[list[int]]]:
    index: dict[str, int] = {}
    positions = [[index.setdefault(text, len(index)) for text in texts] for texts in candidates]
    return list(index), positions


class BM25Teacher:
    """BM25 over kiwi morphemes (nsparse.korean.analyze) with the pipeline's `bm25`, indexed on every candidate."""

    def __init__(self, bm25: Bm25Params) -> None:
        self.k1, self.b = bm25.k1, bm25.b

    def score(self, queries: list[str], candidates: list[list[str]]) -> list[list[float]]:
        import bm25s

        from nsparse.korean import analyze

        texts, positions = _unique_texts(candidates)
        retriever = bm25s.BM25(k1=self.k1, b=self.b)
        retriever.index([analyze(text) for text in texts], show_progress=False)
        return [retriever.get_scores(analyze(query))[columns].tolist() for query, columns in zip(queries, positions)]


class EncoderTeacher:
    """A previously trained nsparse model: dot products of its query and document vectors."""

    def __init__(self, encoder: SparseEncoder, batch_size: int = 32) -> None:
        self.encoder, self.batch_size = encoder, batch_size

    def score(self, queries: list[str], candidates: list[list[str]]) -> list[list[float]]:
        texts, positions = _unique_texts(candidates)
        documents = self.encoder.encode_documents(texts, batch_size=self.batch_size, progress=True)
        query_matrix = self.encoder.encode_queries(queries)
        return [
            np.asarray((query_matrix[row] @ documents[columns].T).todense()).ravel().tolist()
            for row, columns in enumerate(positions)
        ]


def attach_teacher_scores(pairs: list[dict], teacher: Teacher) -> list[dict]:
    """Copies of `pairs` with `teacher_scores` = the teacher's scores of [positive, *negatives]."""
    scores = teacher.score(
        [pair["query"] for pair in pairs], [[pair["positive"], *pair["negatives"]] for pair in pairs]
    )
    return [{**pair, "teacher_scores": row} for pair, row in zip(pairs, scores)]
