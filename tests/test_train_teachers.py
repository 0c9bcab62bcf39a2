"""Distillation teachers: BM25 (kiwi + bm25s) and a previous nsparse model score each pair's candidates."""

from __future__ import annotations

import numpy as np

from helpers import PARAMS, TEXTS, tiny_encoder
from nsparse.train.teachers import BM25Teacher, EncoderTeacher, attach_teacher_scores

PAIRS = [
    {"query": "대한민국의 수도 서울", "positive": TEXTS[0], "negatives": [TEXTS[3], TEXTS[2]], "source": "test"},
    {"query": "김치 전통 음식", "positive": TEXTS[3], "negatives": [TEXTS[1]], "source": "test"},
]


def test_bm25_teacher_scores_lexical_positive_above_negatives() -> None:
    scored = attach_teacher_scores(PAIRS, BM25Teacher(PARAMS.bm25))
    for pair in scored:
        scores = pair["teacher_scores"]
        assert len(scores) == 1 + len(pair["negatives"])
        assert scores[0] > max(scores[1:])


def test_encoder_teacher_scores_are_dot_products_of_its_vectors() -> None:
    encoder = tiny_encoder()
    scored = attach_teacher_scores(PAIRS, EncoderTeacher(encoder))
    for pair in scored:
        query = encoder.encode_queries([pair["query"]])
        documents = encoder.encode_documents([pair["positive"], *pair["negatives"]])
        expected = (query @ documents.T).toarray().ravel()
        assert np.allclose(pair["teacher_scores"], expected, rtol=1e-5)
