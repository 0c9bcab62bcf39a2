"""ML Commons flows against the live node, with tiny real model artifacts built here.

(a) SPARSE_TOKENIZE: a WordPiece tokenizer.json + idf.json zip, registered by
    chunked upload, deployed, and used by neural_sparse to encode queries.
(b) SPARSE_ENCODING in ONNX: a small torch module exported to ONNX with
    tokenizer.json, registered by chunked upload, deployed, and asked to `_predict`.
"""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from nsparse.io import sha256_file
from nsparse.opensearch import index, ml, search
from nsparse.opensearch.client import OpenSearchError

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
    tokenizer.normalizer = normalizers.BertNormalizer(
        lowercase=True, strip_accents=False
    )  # keep Hangul syllables whole
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    tokenizer.train_from_iterator(SENTENCES, trainers.WordPieceTrainer(vocab_size=300, special_tokens=special))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[(name, tokenizer.token_to_id(name)) for name in ("[CLS]", "[SEP]")]
    )
    path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
    tokenizer.save(str(path))
    return path


def _query_weights(tokenizer_path: Path, idf: dict[str, float], text: str) -> dict[str, float]:
    """What SPARSE_TOKENIZE computes: each distinct token of the text, decoded alone, weighed by its IDF (default 1)."""
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokens = (tokenizer.decode([token_id], skip_special_tokens=True) for token_id in tokenizer.encode(text).ids)
    return {token: idf.get(token, 1.0) for token in tokens if token}


@pytest.fixture(scope="module")
def tokenize_zip(tokenizer_file, tmp_path_factory) -> tuple[Path, dict[str, float]]:
    vocabulary = Tokenizer.from_file(str(tokenizer_file)).get_vocab()
    idf = {
        token: round(1.0 + (token_id % 7) / 4, 2) for token, token_id in vocabulary.items() if not token.startswith("[")
    }
    path = tmp_path_factory.mktemp("tokenize") / "sparse_tokenize.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.write(tokenizer_file, "tokenizer.json")
        bundle.writestr("idf.json", json.dumps(idf, ensure_ascii=False))
    return path, idf


def _register(client, zip_path: Path, name: str, function_name: str, model_format: str, **extra) -> str:
    group_id = ml.ensure_model_group(client, GROUP, "nsparse tests")
    return ml.register_model_zip(
        client,
        zip_path,
        name=name,
        version="1.0.0",
        function_name=function_name,
        model_format=model_format,
        model_group_id=group_id,
        description="nsparse test model",
        **extra,
    )


def test_sparse_tokenize_model_encodes_neural_sparse_queries(opensearch, tokenize_zip, tokenizer_file):
    zip_path, idf = tokenize_zip
    model_id = _register(
        opensearch, zip_path, "nsparse-test-tokenizer", "SPARSE_TOKENIZE", "TORCH_SCRIPT", chunk_size=4096
    )
    ml.deploy_model(opensearch, model_id, timeout_s=120)

    text = "학교에서 책을 읽는다"
    expected_query = _query_weights(tokenizer_file, idf, text)
    [predicted] = ml.predict_sparse(opensearch, model_id, [text])
    assert predicted == pytest.approx(expected_query)

    rng = np.random.default_rng(3)
    vocabulary = sorted(Tokenizer.from_file(str(tokenizer_file)).get_vocab())
    docs = {
        f"d{i}": {token: float(rng.integers(1, 257)) / 64 for token in rng.choice(vocabulary, size=12, replace=False)}
        for i in range(30)
    }
    index.create_index(opensearch, INDEX, index.sparse_index_body())
    index.bulk_index(
        opensearch, INDEX, ({"_id": doc_id, "sparse": vector} for doc_id, vector in docs.items()), progress=False
    )

    scores = {
        doc_id: sum(w * vector.get(token, 0.0) for token, w in expected_query.items())
        for doc_id, vector in docs.items()
    }
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
    stale = opensearch.transport.perform_request(
        "POST",
        f"{ml.ML_API}/models/_register_meta",
        body={
            "name": "nsparse-test-stale",
            "version": "1.0.0",
            "function_name": "SPARSE_TOKENIZE",
            "model_format": "TORCH_SCRIPT",
            "model_group_id": group_id,
            "model_content_hash_value": sha256_file(zip_path),
            "model_content_size_in_bytes": zip_path.stat().st_size,
            "total_chunks": 2,
        },
    )["model_id"]

    model_id = _register(opensearch, zip_path, "nsparse-test-stale", "SPARSE_TOKENIZE", "TORCH_SCRIPT")
    assert model_id != stale
    assert [model["model_id"] for model in ml.find_models(opensearch, "nsparse-test-stale")] == [model_id]


class TinySparseEncoder(torch.nn.Module):
    """embedding -> linear to the vocabulary -> log1p(relu) -> max over unmasked positions: SPLADE's shape, tiny."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embedding = torch.nn.Embedding(vocab_size, 16)
        self.to_vocabulary = torch.nn.Linear(16, vocab_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        weights = torch.log1p(torch.relu(self.to_vocabulary(self.embedding(input_ids))))
        return (weights * attention_mask.unsqueeze(-1).to(weights.dtype)).amax(dim=1)


@pytest.fixture(scope="module")
def onnx_zip(tokenizer_file, tmp_path_factory) -> Path:
    """sparse_encoding.zip: model.onnx (int64 input_ids/attention_mask [batch, seq] -> float [batch, vocab])
    and tokenizer.json.

    Opset 17: ML Commons 2.19 bundles ONNX Runtime 1.16, which reads opsets up to 19.
    The graph inputs carry the names ML Commons' SparseEncodingTranslator gives its
    tensors (`input1.input_ids`, `input1.attention_mask`): DJL's ONNX Runtime engine
    feeds named tensors by name, so plain `input_ids` is refused at deploy.
    """
    folder = tmp_path_factory.mktemp("onnx")
    vocab_size = Tokenizer.from_file(str(tokenizer_file)).get_vocab_size()
    example = (torch.ones(1, 4, dtype=torch.int64), torch.ones(1, 4, dtype=torch.int64))
    torch.onnx.export(
        TinySparseEncoder(vocab_size).eval(),
        example,
        folder / "model.onnx",
        dynamo=False,
        opset_version=17,
        input_names=list(ml.ONNX_INPUT_NAMES),
        output_names=["output"],
        dynamic_axes={**{name: {0: "batch", 1: "sequence"} for name in ml.ONNX_INPUT_NAMES}, "output": {0: "batch"}},
    )
    path = folder / "sparse_encoding.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.write(folder / "model.onnx", "model.onnx")
        bundle.write(tokenizer_file, "tokenizer.json")
    return path


def _onnx_weights(zip_path: Path, tokenizer_path: Path, text: str) -> dict[str, float]:
    """What ML Commons returns for `text`: ONNX Runtime's output row, non-zero entries keyed by their decoded token."""
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    encoding = tokenizer.encode(text)
    with zipfile.ZipFile(zip_path) as bundle:
        session = onnxruntime.InferenceSession(bundle.read("model.onnx"))
    feeds = dict(zip(ml.ONNX_INPUT_NAMES, (np.array([encoding.ids]), np.array([encoding.attention_mask]))))
    [row] = session.run(None, feeds)[0]
    weights = {}
    for token_id in np.flatnonzero(row):
        token = tokenizer.decode([int(token_id)], skip_special_tokens=True)
        if token:
            weights[token] = float(row[token_id])
    return weights


def test_onnx_sparse_encoding_model_deploys_offline_and_predicts(opensearch, onnx_zip, tokenizer_file):
    model_id = _register(opensearch, onnx_zip, "nsparse-test-onnx", "SPARSE_ENCODING", "ONNX", chunk_size=16_384)
    assert ml.get_model(opensearch, model_id)["total_chunks"] > 1
    ml.deploy_model(opensearch, model_id, timeout_s=180)

    texts = ["학교에서 책을 읽는다", "The library opens at nine."]
    predicted = ml.predict_sparse(opensearch, model_id, texts)
    for text, weights in zip(texts, predicted):
        expected = _onnx_weights(onnx_zip, tokenizer_file, text)
        assert weights.keys() == expected.keys()
        assert weights == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_ingest_pipeline_encodes_documents_with_the_deployed_model(opensearch, onnx_zip, tokenizer_file):
    model_id = _register(opensearch, onnx_zip, "nsparse-test-onnx", "SPARSE_ENCODING", "ONNX")
    ml.deploy_model(opensearch, model_id, timeout_s=180)
    pipeline = "nsparse-test-encode"
    index.put_ingest_pipeline(
        opensearch, pipeline, index.load_body("sparse_encoding_ingest_pipeline", model_id=model_id)
    )
    body = index.sparse_index_body()
    body["settings"]["index"]["default_pipeline"] = pipeline
    index.create_index(opensearch, INDEX, body)
    docs = {f"s{number}": sentence for number, sentence in enumerate(SENTENCES)}
    index.bulk_index(
        opensearch,
        INDEX,
        ({"_id": doc_id, "text": text, "passage": text} for doc_id, text in docs.items()),
        progress=False,
    )

    query = {"학교": 1.0, "도서관": 0.5, "library": 2.0}
    encoded = {doc_id: _onnx_weights(onnx_zip, tokenizer_file, text) for doc_id, text in docs.items()}
    scores = {
        doc_id: sum(w * vector.get(token, 0.0) for token, w in query.items()) for doc_id, vector in encoded.items()
    }
    expected = sorted((doc_id for doc_id in scores if scores[doc_id] > 0), key=lambda doc_id: -scores[doc_id])
    ranking = search.neural_sparse_tokens(opensearch, INDEX, "sparse", query, k=len(docs))
    assert [doc_id for doc_id, _ in ranking] == expected
    # rank_features keeps 9 significant bits of each stored weight.
    assert [score for _, score in ranking] == pytest.approx([scores[doc_id] for doc_id in expected], rel=1e-2)


def test_a_refused_upload_deletes_the_half_registered_model(opensearch, tmp_path):
    """ML Commons refuses chunks over 10 MB: the model registered before the refusal must not survive it."""
    oversized = tmp_path / "oversized.zip"
    with zipfile.ZipFile(oversized, "w", zipfile.ZIP_STORED) as bundle:
        bundle.writestr("tokenizer.json", np.random.default_rng(0).bytes(12_000_000))
    with pytest.raises(OpenSearchError, match=r"uploading chunk 1/2 .*HTTP 500: .*exceeds 10MB"):
        _register(
            opensearch, oversized, "nsparse-test-refused", "SPARSE_TOKENIZE", "TORCH_SCRIPT", chunk_size=11_000_000
        )
    time.sleep(2)  # model search refreshes every second: a surviving model would be visible by now
    assert ml.find_models(opensearch, "nsparse-test-refused") == []
