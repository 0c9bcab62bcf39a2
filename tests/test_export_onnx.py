"""Export: ONNX graph contract and parity gate, int8, TorchScript, ML Commons zips, encoding benchmark."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper
from tokenizers import Tokenizer

from helpers import PARAMS, TEXTS, tiny_encoder
from nsparse.data import Benchmark
from nsparse.export.mlcommons import check_tokenizer_parity, reproducible_torchscript, write_ml_commons_tokenizer
from nsparse.export.onnx import ParityError, check_parity, export_onnx
from nsparse.export.package import export_variant
from nsparse.train.validation import capped_validation_set


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    encoder = tiny_encoder(prune_ratio=0.05)
    folder = tmp_path_factory.mktemp("export")
    export_onnx(encoder, folder / "model.onnx", opset=17)
    return encoder, folder / "model.onnx"


def test_graph_contract_for_ml_commons(exported) -> None:
    encoder, path = exported
    model = onnx.load(str(path))
    assert [value.name for value in model.graph.input] == ["input1.input_ids", "input1.attention_mask"]
    assert all(value.type.tensor_type.elem_type == onnx.TensorProto.INT64 for value in model.graph.input)
    assert len(model.graph.output) == 1
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, length in ((1, 5), (3, 17)):  # dynamic batch and sequence axes
        ids = np.full((batch, length), encoder.tokenizer.cls_token_id, dtype=np.int64)
        (output,) = session.run(None, {"input1.input_ids": ids, "input1.attention_mask": np.ones_like(ids)})
        assert output.shape == (batch, len(encoder.vocab)) and output.dtype == np.float32


def test_parity_passes_on_faithful_graph(exported) -> None:
    encoder, path = exported
    figures = check_parity(encoder, path, TEXTS, PARAMS.export.parity.atol, PARAMS.export.parity.top_k)
    assert figures["max_abs_diff"] <= 1e-4 and figures["top_k_mismatches"] == 0


def test_parity_fails_on_altered_graph(exported, tmp_path) -> None:
    encoder, path = exported
    model = onnx.load(str(path))
    largest = max(model.graph.initializer, key=lambda tensor: np.prod(tensor.dims))  # the vocabulary projection
    weights = numpy_helper.to_array(largest).copy()
    weights.flat[::7] += 0.5
    largest.CopyFrom(numpy_helper.from_array(weights, largest.name))
    onnx.save(model, str(tmp_path / "altered.onnx"))
    with pytest.raises(ParityError, match="max \\|diff\\|"):
        check_parity(encoder, tmp_path / "altered.onnx", TEXTS, PARAMS.export.parity.atol, PARAMS.export.parity.top_k)


def test_export_variant_writes_packages_manifest_and_benchmark(tmp_path) -> None:
    encoder = tiny_encoder()
    encoder.save(tmp_path / "model")
    subset = capped_validation_set(
        Benchmark(
            corpus={f"d{i}": {"title": "", "text": text} for i, text in enumerate(TEXTS)},
            queries={"q0": "대한민국의 수도", "q1": "김치"},
            qrels={"q0": {"d0": 1}, "q1": {"d3": 1}},
        ),
        max_docs=5,
        max_queries=2,
        seed=0,
    )
    bench = export_variant(tmp_path / "model", tmp_path / "export", TEXTS, subset, PARAMS.export)
    export = tmp_path / "export"
    manifest = json.loads((export / "manifest.json").read_text())
    for name, members in {
        "sparse_encoding.zip": ["model.onnx", "tokenizer.json"],
        "sparse_tokenize.zip": ["idf.json", "tokenizer.json"],
        "torchscript.zip": ["model.pt", "tokenizer.json"],
    }.items():
        with zipfile.ZipFile(export / name) as archive:
            assert sorted(archive.namelist()) == members
        assert len(manifest["files"][name]["sha256"]) == 64
    assert manifest["files"]["model.onnx"]["opset"] == 17
    assert set(bench["backends"]) == {"pytorch", "onnx_fp32", "onnx_int8"}
    assert bench["backends"]["onnx_fp32"]["max_abs_diff"] <= 1e-4
    # the TorchScript package reproduces the encoder
    traced = torch.jit.load(str(export / "model.pt"))
    with zipfile.ZipFile(export / "model.pt") as archive:  # no tracing paths, no random id: same model, same bytes
        assert not [name for name in archive.namelist() if name.endswith(".debug_pkl")]
    saves = []
    for _ in range(2):
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
        saves.append(reproducible_torchscript(buffer.getvalue()))
    encoder.eval()
    batch = encoder.tokenize(TEXTS, 64)
    assert saves[0] == saves[1] and torch.jit.load(io.BytesIO(saves[0]))(dict(batch)).shape[1] == len(encoder.vocab)
    assert torch.allclose(traced(dict(batch)), encoder(**batch), atol=1e-5)


def test_packaged_tokenizer_truncates_documents_at_max_length_whatever_the_last_call(tmp_path) -> None:
    """A fast tokenizer saves the truncation of its last call; ML Commons would apply it to every document."""
    encoder = tiny_encoder()
    long_text = " ".join(TEXTS * 4)
    encoder.tokenizer(["짧은 질문"], truncation=True, max_length=8)  # a query call leaves truncation at 8
    path = tmp_path / "tokenizer.json"
    write_ml_commons_tokenizer(encoder, path)
    check_tokenizer_parity(encoder, path, [long_text, TEXTS[0]])
    assert len(Tokenizer.from_file(str(path)).encode(long_text).ids) == 64
    stale = tmp_path / "stale.json"
    encoder.tokenizer(["짧은 질문"], truncation=True, max_length=8)
    encoder.tokenizer.backend_tokenizer.save(str(stale))  # what saving the tokenizer as it is would package
    with pytest.raises(ParityError, match="into 8 ids where the encoder uses 64"):
        check_tokenizer_parity(encoder, stale, [long_text])
