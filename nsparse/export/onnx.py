"""ONNX export of the document encoder, its parity check against PyTorch, and int8 quantization.

The graph takes int64 `input_ids` and `attention_mask` ([batch, sequence], both axes
dynamic; named `input1.input_ids` and `input1.attention_mask` in the graph, as ML Commons
feeds them) and returns one float tensor [batch, vocab] with pooling, activation,
special-token zeroing and pruning inside, so ML Commons gets finished sparse vectors.

Opset: ML Commons 3.6.0 and 2.19.1 bundle ONNX Runtime 1.16.3 (`onnxruntime_gpu-1.16.3.jar`),
which runs opsets up to 19 and IR version up to 9; opset 17 (native LayerNormalization)
is the default, and `export_onnx` refuses anything newer than the target can load.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import scipy.sparse as sp
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from torch import nn

from nsparse.model.encoder import SparseEncoder, encode_passages_pooled, prune

MAX_OPSET = 19  # ONNX Runtime 1.16.3, bundled with ML Commons 3.6.0 and 2.19.1
MAX_IR_VERSION = 9
TOKENIZER_INPUTS = ("input_ids", "attention_mask")
# ML Commons' SparseEncodingTranslator names its tensors `input1.<name>` and DJL's ONNX
# Runtime engine feeds them by name: plain `input_ids` fails to deploy with
# "Invalid input tensor name: input1.input_ids".
INPUT_NAMES = [f"input1.{name}" for name in TOKENIZER_INPUTS]
OUTPUT_NAME = "output"


class ParityError(RuntimeError):
    """The exported graph does not reproduce the PyTorch encoder closely enough to ship."""


class DocumentGraph(nn.Module):
    """The document side as ML Commons runs it: token ids in, pruned sparse vectors out."""

    def __init__(self, encoder: SparseEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return prune(self.encoder(input_ids, attention_mask), self.encoder.settings.prune_ratio)


def example_inputs(encoder: SparseEncoder) -> tuple[torch.Tensor, torch.Tensor]:
    """Two texts of different lengths, so padding is traced and no length is baked in."""
    batch = encoder.tokenize(["예시 문서입니다. An example document.", "짧은 글"], encoder.settings.max_length)
    return batch["input_ids"], batch["attention_mask"]


def export_onnx(encoder: SparseEncoder, path: str | os.PathLike[str], opset: int) -> None:
    """Write the document graph to `path` (TorchScript-based exporter: robust on torch 2.8)."""
    if opset > MAX_OPSET:
        raise ValueError(f"opset {opset}: ML Commons' ONNX Runtime 1.16.3 accepts at most {MAX_OPSET}")
    encoder.eval()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    axes = {"batch": 0, "sequence": 1}
    dynamic_axes = {name: {index: axis for axis, index in axes.items()} for name in INPUT_NAMES}
    dynamic_axes[OUTPUT_NAME] = {0: "batch"}
    with torch.no_grad():
        torch.onnx.export(
            DocumentGraph(encoder).cpu().eval(),
            example_inputs(encoder.cpu()),
            str(path),
            dynamo=False,
            input_names=INPUT_NAMES,
            output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            do_constant_folding=True,
        )
    check_loadable_by_ml_commons(path)


def check_loadable_by_ml_commons(path: str | os.PathLike[str]) -> dict[str, int]:
    """Opset and IR version of a model file, raising if ML Commons' runtime could not load it."""
    model = onnx.load(str(path), load_external_data=False)
    opset = max(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
    if opset > MAX_OPSET or model.ir_version > MAX_IR_VERSION:
        raise ValueError(
            f"{path}: opset {opset} / IR {model.ir_version} exceeds ONNX Runtime 1.16.3's "
            f"{MAX_OPSET} / {MAX_IR_VERSION}"
        )
    return {"opset": opset, "ir_version": model.ir_version}


def quantize_int8(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Dynamic int8 quantization of the weights of MatMul/Gemm (activations quantized at run time)."""
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    check_loadable_by_ml_commons(target)


class OnnxDocumentEncoder:
    """Runs an exported document graph with ONNX Runtime on the encoder's tokenizer."""

    def __init__(self, path: str | os.PathLike[str], encoder: SparseEncoder, threads: int | None = None) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.encoder = encoder

    @property
    def vocab(self) -> list[str]:
        """Column index -> token of the vectors, as the encoder's."""
        return self.encoder.vocab

    def run(self, texts: list[str]) -> np.ndarray:
        max_length = self.encoder.settings.max_length
        batch = self.encoder.tokenizer(
            texts, padding=True, truncation=max_length is not None, max_length=max_length, return_tensors="np"
        )
        feeds = {graph: batch[name].astype(np.int64) for name, graph in zip(TOKENIZER_INPUTS, INPUT_NAMES)}
        return self.session.run([OUTPUT_NAME], feeds)[0]

    def encode_documents(self, texts: Sequence[str], batch_size: int = 32) -> sp.csr_matrix:
        """As `SparseEncoder.encode_documents`: a long document max-pooled over the passages ML Commons would read."""
        return encode_passages_pooled(texts, self.encoder.passages, batch_size, self.run, len(self.encoder.vocab))


def check_parity(
    encoder: SparseEncoder,
    onnx_path: str | os.PathLike[str],
    texts: Sequence[str],
    atol: float,
    top_k: int,
    batch_size: int = 8,
) -> dict[str, float]:
    """Compare ONNX Runtime with PyTorch on `texts`; raise ParityError unless within `atol` and same top-k terms."""
    expected = encoder.encode_documents(texts, batch_size=batch_size).toarray()
    actual = OnnxDocumentEncoder(onnx_path, encoder).encode_documents(texts, batch_size=batch_size).toarray()
    figures = compare_vectors(expected, actual, top_k)
    if figures["max_abs_diff"] > atol or figures["top_k_mismatches"] > 0:
        raise ParityError(
            f"{onnx_path}: ONNX vs PyTorch on {len(texts)} texts: max |diff| "
            f"{figures['max_abs_diff']:.3g} (limit {atol:g}), {figures['top_k_mismatches']} documents "
            f"with different top-{top_k} terms"
        )
    return {**figures, "atol": atol, "texts": len(texts)}


def compare_vectors(expected: np.ndarray, actual: np.ndarray, top_k: int) -> dict[str, float]:
    """Largest absolute difference, and how many rows disagree on their top-k terms (as sets)."""
    mismatches = sum(set(top_terms(want, top_k)) != set(top_terms(got, top_k)) for want, got in zip(expected, actual))
    return {"max_abs_diff": float(np.abs(expected - actual).max()), "top_k": top_k, "top_k_mismatches": int(mismatches)}


def top_terms(row: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k largest positive weights (fewer if the row has fewer)."""
    positive = np.flatnonzero(row > 0)
    return positive[np.argsort(-row[positive], kind="stable")[:k]]
