"""ML Commons flows against the live node, with tiny real model artifacts built here.

(a) SPARSE_TOKENIZE: a WordPiece tokenizer.json + idf.json zip, registered by
    chunked upload, deployed, and used by neural_sparse to encode queries.
(b) SPARSE_ENCODING in ONNX: a small torch module exported to ONNX with
    tokenizer.json, registered by chunked upload, deployed, and asked to `_predict`.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from nsparse.opensearch import index, ml, search

pytestmark = pytest.mark.opensearch

SENTENCES = [
    "우리 학교가 올해 개교 백 주년을 맞았다.",
    "학생들은 학교에서 공부하고 도서관에서 책을 읽는다.",
    "시립 도서관은 주말에도 문을 연다.",
    "그는 작은 회사에서 일한다.",
    "회사가 새 사무실로 이사했다.",
    "The library opens at nine on weekends.",
    "Students study at school and read books in the library.",
]
GROUP = "nsparse-test-group"
INDEX = "nsparse-test-ml"


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory) -> Path:
    """A BERT-style WordPiece tokenizer trained on the sentences above (no hub access)."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    tokenizer.train_from_iterator(SENTENCES, trainers.WordPieceTrainer(vocab_size=300, special_tokens=special))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[(name, tokenizer.token_to_id(name)) for name in ("[CLS]", "[SEP]")])
    path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
    tokenizer.save(str(path))
    return path


def _query_weights(tokenizer_path: Path, idf: dict[str, float], text: str) -> dict[str, float]:
    """What SPARSE_TOKENIZE computes: each distinct token of the text, decoded alone, weighted by its IDF (default 1)."""
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokens = (tokenizer.decode([token_id], skip_special_tokens=True) for token_id in tokenizer.encode(text).ids)
    return {token: idf.get(token, 1.0) for token in tokens if token}


@pytest.fixture(scope="module")
def tokenize_zip(tokenizer_file, tmp_path_factory) -> tuple[Path, dict[str, float]]:
    vocabulary = Tokenizer.from_file(str(tokenizer_file)).get_vocab()
    idf = {token: round(1.0 + (token_id % 7) / 4, 2) for token, token_id in vocabulary.items() if not token.startswith("[")}
    path = tmp_path_factory.mktemp("tokenize") / "sparse_tokenize.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.write(tokenizer_file, "tokenizer.json")
        bundle.writestr("idf.json", json.dumps(idf, ensure_ascii=False))
    return path, idf


def _register(client, zip_path: Path, name: str, function_name: str, model_format: str, **extra) -> str:
    group_id = ml.ensure_model_group(client, GROUP, "nsparse tests")
    return ml.register_model_zip(client, zip_path, name=name, version="1.0.0", function_name=function_name,
                                 model_format=model_format, model_group_id=group_id, description="nsparse test model", **extra)


def test_sparse_tokenize_model_encodes_neural_sparse_queries(opensearch, tokenize_zip, tokenizer_file):
    zip_path, idf = tokenize_zip
    model_id = _register(opensearch, zip_path, "nsparse-test-tokenizer", "SPARSE_TOKENIZE", "TORCH_SCRIPT", chunk_size=4096)
    ml.deploy_model(opensearch, model_id, timeout_s=120)

    text = "학교에서 책을 읽는다"
    expected_query = _query_weights(tokenizer_file, idf, text)
    [predicted] = ml.predict_sparse(opensearch, model_id, [text])
    assert predicted == pytest.approx(expected_query)

    rng = np.random.default_rng(3)
    vocabulary = sorted(Tokenizer.from_file(str(tokenizer_file)).get_vocab())
    docs = {f"d{i}": {token: float(rng.integers(1, 257)) / 64 for token in rng.choice(vocabulary, size=12, replace=False)} for i in range(30)}
    index.create_index(opensearch, INDEX, index.load_body("sparse_index"))
    index.bulk_index(opensearch, INDEX, ({"_id": doc_id, "sparse": vector} for doc_id, vector in docs.items()), progress=False)

    scores = {doc_id: sum(w * vector.get(token, 0.0) for token, w in expected_query.items()) for doc_id, vector in docs.items()}
    expected_ranking = [doc_id for doc_id in sorted(scores, key=lambda d: -scores[d]) if scores[doc_id] > 0]
    ranking = search.neural_sparse_model(opensearch, INDEX, "sparse", text, model_id, k=len(docs))
    assert {doc_id for doc_id, _ in ranking} == set(expected_ranking)
    assert [score for _, score in ranking] == pytest.approx(sorted(scores[d] for d in expected_ranking)[::-1], rel=1e-5)


def test_same_content_reuses_the_model_and_new_content_does_not(opensearch, tokenize_zip, tmp_path):
    zip_path, _ = tokenize_zip
    first = _register(opensearch, zip_path, "nsparse-test-reuse", "SPARSE_TOKENIZE", "TORCH_SCRIPT")
    assert _register(opensearch, zip_path, "nsparse-test-reuse", "SPARSE_TOKENIZE", "TORCH_SCRIPT") == first

    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(changed, "w") as target:
        target.writestr("tokenizer.json", source.read("tokenizer.json"))
        target.writestr("idf.json", "{}")
    assert _register(opensearch, changed, "nsparse-test-reuse", "SPARSE_TOKENIZE", "TORCH_SCRIPT") != first
    assert len(ml.find_models(opensearch, "nsparse-test-reuse")) == 2


def test_an_upload_that_never_finished_is_replaced_not_reused(opensearch, tokenize_zip):
    """A crashed run leaves a model in REGISTERING state; registering again must not return it."""
    zip_path, _ = tokenize_zip
    group_id = ml.ensure_model_group(opensearch, GROUP, "nsparse tests")
    stale = opensearch.transport.perform_request("POST", f"{ml.ML_API}/models/_register_meta", body={
        "name": "nsparse-test-stale", "version": "1.0.0", "function_name": "SPARSE_TOKENIZE", "model_format": "TORCH_SCRIPT",
        "model_group_id": group_id, "model_content_hash_value": ml.sha256_of(zip_path),
        "model_content_size_in_bytes": zip_path.stat().st_size, "total_chunks": 2})["model_id"]

    model_id = _register(opensearch, zip_path, "nsparse-test-stale", "SPARSE_TOKENIZE", "TORCH_SCRIPT")
    assert model_id != stale
    assert [model["model_id"] for model in ml.find_models(opensearch, "nsparse-test-stale")] == [model_id]
