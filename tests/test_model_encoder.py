"""The sparse encoder: pooling, IDF query encoding, pruning, save/load, base tokenizer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from helpers import TEXTS, tiny_encoder
from nsparse.model.encoder import SparseEncoder, compute_idf, prune, splade_pool
from nsparse.model.vocabulary import train_tokenizer


def test_splade_pool_matches_hand_computed_example() -> None:
    # batch 1, 3 positions (last is padding), vocab 3
    logits = torch.tensor([[[1.0, -2.0, 0.0], [3.0, 0.5, -1.0], [100.0, 100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    expected = torch.tensor([[math.log(4.0), math.log(1.5), 0.0]])  # max(log1p(relu)) over real tokens
    assert torch.allclose(splade_pool(logits, mask), expected)


def test_prune_drops_weights_below_ratio_of_row_max() -> None:
    weights = torch.tensor([[4.0, 1.0, 2.0, 0.0], [1.0, 0.9, 0.1, 0.5]])
    assert torch.equal(prune(weights, 0.5), torch.tensor([[4.0, 0.0, 2.0, 0.0], [1.0, 0.9, 0.0, 0.5]]))
    assert torch.equal(prune(weights, 0.0), weights)


def test_document_vectors_zero_special_tokens_and_are_sparse_nonnegative() -> None:
    encoder = tiny_encoder()
    matrix = encoder.encode_documents(TEXTS, batch_size=2)
    assert isinstance(matrix, sp.csr_matrix) and matrix.shape == (len(TEXTS), len(encoder.vocab))
    assert matrix.data.min() > 0
    special_columns = encoder.tokenizer.all_special_ids
    assert matrix[:, special_columns].nnz == 0
    # length-sorted batching must not reorder rows: each row equals encoding that text alone
    alone = encoder.encode_documents([TEXTS[3]])
    assert np.allclose(matrix[3].toarray(), alone.toarray(), atol=1e-5)


def test_idf_query_vector_is_idf_of_each_distinct_token_once() -> None:
    encoder = tiny_encoder()
    idf = compute_idf(encoder.tokenizer, TEXTS, encoder.settings.max_length)
    query = "서울 서울 도시"
    weights = encoder.to_token_weights(encoder.encode_queries([query])[0])
    tokens = set(encoder.tokenizer.tokenize(query))
    assert set(weights) == tokens
    for token in tokens:
        assert weights[token] == pytest.approx(idf[token], rel=1e-6)
    # a token in more documents weighs less
    assert idf["대한민국"] < idf["김치"]
    assert idf["[CLS]"] == 0.0


def test_one_query_by_lookup_equals_the_batched_query_vectors() -> None:
    encoder = tiny_encoder()
    with torch.no_grad():
        encoder.idf_log_scale.copy_(torch.linspace(-0.5, 0.5, len(encoder.vocab)))  # a learned re-weighting too
    queries = ["서울 서울 도시", "Seoul capital city", "김치 [SEP] 음식", ""]
    batched = encoder.encode_queries(queries)
    for row, query in enumerate(queries):
        expected = encoder.to_token_weights(batched[row])
        assert encoder.query_token_weights(query) == pytest.approx(expected, rel=1e-6)


def test_bi_encoder_queries_use_the_model() -> None:
    encoder = tiny_encoder(mode="bi-encoder", query_max_length=64)
    query = "서울 도시"
    assert np.allclose(
        encoder.encode_queries([query]).toarray(), encoder.encode_documents([query]).toarray(), atol=1e-6
    )


def test_save_load_round_trip(tmp_path) -> None:
    encoder = tiny_encoder(prune_ratio=0.1)
    encoder.save(tmp_path / "model")
    for name in ("tokenizer.json", "idf.json", "nsparse.json", "config.json"):
        assert (tmp_path / "model" / name).exists()
    loaded = SparseEncoder.load(tmp_path / "model")
    assert loaded.settings == encoder.settings
    assert (encoder.encode_documents(TEXTS) != loaded.encode_documents(TEXTS)).nnz == 0
    assert (encoder.encode_queries(TEXTS) != loaded.encode_queries(TEXTS)).nnz == 0


def test_korean_syllables_survive_tokenizer_normalization() -> None:
    tokenizer, _ = train_tokenizer(TEXTS * 3, vocab_size=1000, min_frequency=1)
    pieces = tokenizer.tokenize("서울은 Seoul")
    # syllables stay composed (NFD would split them into jamo); English is lower-cased
    assert "".join(piece.removeprefix("##") for piece in pieces) == "서울은seoul"
