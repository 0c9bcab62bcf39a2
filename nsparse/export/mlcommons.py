"""ML Commons model packages: SPARSE_ENCODING (ONNX or TorchScript) and SPARSE_TOKENIZE zips.

ML Commons expects the model file and `tokenizer.json` at the zip root; the query-side
SPARSE_TOKENIZE package is `tokenizer.json` + `idf.json`. Zip entries carry a fixed
timestamp so the same files always give the same bytes and SHA-256 (which the model
registration request must state).
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import nn

from nsparse.export.onnx import DocumentGraph, ParityError, example_inputs
from nsparse.io import atomic_open, sha256_file
from nsparse.model.encoder import IDF_FILE, SparseEncoder

TOKENIZER_FILE = "tokenizer.json"
# ML Commons' SparseEncodingTranslator builds DJL's HuggingFaceTokenizer with options, and DJL then truncates at
# its modelMaxLength default, 512 tokens (special tokens included), even when tokenizer.json truncates nothing:
# on 3.6.0 a longer document was stored with the weights of its first 512 tokens. Deploy encodes such documents
# itself, with the same ONNX graph (`nsparse.pipeline.deploy`).
ML_COMMONS_MAX_TOKENS = 512
FIXED_TIMESTAMP = (2020, 1, 1, 0, 0, 0)
SERIALIZATION_ID = ".data/serialization_id"


class TorchScriptDocumentGraph(nn.Module):
    """The document graph with the dict input DJL's PyTorch engine passes (`input1.input_ids`, ...)."""

    def __init__(self, encoder: SparseEncoder) -> None:
        super().__init__()
        self.graph = DocumentGraph(encoder)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.graph(features["input_ids"], features["attention_mask"])


def export_torchscript(encoder: SparseEncoder, path: str | os.PathLike[str]) -> None:
    """Trace the document graph (dynamic batch and length come from tracing real tensors)."""
    encoder.cpu().eval()
    input_ids, attention_mask = example_inputs(encoder)
    with torch.no_grad():
        traced = torch.jit.trace(
            TorchScriptDocumentGraph(encoder),
            ({"input_ids": input_ids, "attention_mask": attention_mask},),
            strict=False,
        )
    saved = io.BytesIO()
    torch.jit.save(traced, saved)
    with atomic_open(path, "wb") as handle:
        handle.write(reproducible_torchscript(saved.getvalue()))


def reproducible_torchscript(archive: bytes) -> bytes:
    """The same traced model as the same bytes, wherever it was traced.

    A TorchScript archive records the tracing machine's source paths and line numbers
    (the `*.debug_pkl` tables, only used in error messages) and a random serialization
    id; without them DVC's hash of the export depends on the model alone.
    """
    source = zipfile.ZipFile(io.BytesIO(archive))
    members = [info for info in source.infolist() if not info.filename.endswith(".debug_pkl")]
    content = hashlib.sha256(
        b"".join(source.read(info) for info in members if not info.filename.endswith(SERIALIZATION_ID))
    ).digest()
    result = io.BytesIO()
    with zipfile.ZipFile(result, "w", zipfile.ZIP_STORED) as target:
        for info in members:
            data = source.read(info)
            if info.filename.endswith(SERIALIZATION_ID):
                data = str(int.from_bytes(content[:16], "big")).zfill(40).encode()
            target.writestr(_fixed_entry(info.filename, zipfile.ZIP_STORED), data)
    return result.getvalue()


def write_zip(path: str | os.PathLike[str], members: dict[str, str | os.PathLike[str]]) -> None:
    """A reproducible zip of {name at the root: source file}."""
    with atomic_open(path, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in sorted(members.items()):
            archive.writestr(_fixed_entry(name, zipfile.ZIP_DEFLATED), Path(source).read_bytes())


def _fixed_entry(name: str, compress_type: int) -> zipfile.ZipInfo:
    """A member header without the machine's clock or umask in it: the same content gives the same bytes."""
    entry = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
    entry.compress_type = compress_type
    entry.external_attr = 0o644 << 16
    return entry


def write_ml_commons_tokenizer(encoder: SparseEncoder, path: str | os.PathLike[str]) -> None:
    """`tokenizer.json` as ML Commons must apply it to documents: cut at the encoder's max_length (if any), unpadded.

    ML Commons obeys the truncation and padding recorded in tokenizer.json, and a Hugging
    Face fast tokenizer records those of its last call (say 64, for a batch of queries):
    saved as it is, the live index would encode only the first 64 tokens of each document.
    """
    tokenizer = Tokenizer.from_str(encoder.tokenizer.backend_tokenizer.to_str())
    if encoder.settings.max_length is None:
        tokenizer.no_truncation()  # whole documents: ML Commons (DJL) then applies no length limit of its own
    else:
        tokenizer.enable_truncation(encoder.settings.max_length)
    tokenizer.no_padding()
    with atomic_open(path) as handle:
        handle.write(tokenizer.to_str())


def check_tokenizer_parity(encoder: SparseEncoder, path: str | os.PathLike[str], texts: Sequence[str]) -> None:
    """Raise ParityError unless the packaged tokenizer.json gives ML Commons the ids the parity check fed ONNX."""
    packaged = [encoding.ids for encoding in Tokenizer.from_file(str(path)).encode_batch(list(texts))]
    max_length = encoder.settings.max_length
    expected = encoder.tokenizer(list(texts), truncation=max_length is not None, max_length=max_length)["input_ids"]
    for text, got, want in zip(texts, packaged, expected):
        if got != want:
            raise ParityError(
                f"{path}: tokenizes {text[:40]!r}... into {len(got)} ids where the encoder uses {len(want)}"
                f" (max_length {encoder.settings.max_length})"
            )


def write_packages(
    encoder: SparseEncoder, export_dir: str | os.PathLike[str], parity_texts: Sequence[str]
) -> dict[str, dict]:
    """The ML Commons zips of `encoder` from the graphs exported into `export_dir` (model.onnx, and model.pt when
    the graph has a transformer worth tracing), with its tokenizer and query weights.

    The packaged tokenizer is checked on `parity_texts` against the encoder's own.
    Returns {zip name: {"sha256", "bytes", "members"}} for the manifest.
    """
    export = Path(export_dir)
    tokenizer = export / TOKENIZER_FILE
    write_ml_commons_tokenizer(encoder, tokenizer)
    check_tokenizer_parity(encoder, tokenizer, parity_texts)
    encoder.write_query_weights(export / IDF_FILE)
    packages = {
        "sparse_encoding.zip": {"model.onnx": export / "model.onnx", TOKENIZER_FILE: tokenizer},
        "sparse_tokenize.zip": {TOKENIZER_FILE: tokenizer, IDF_FILE: export / IDF_FILE},
    }
    if (export / "model.pt").exists():
        packages["torchscript.zip"] = {"model.pt": export / "model.pt", TOKENIZER_FILE: tokenizer}
    described = {}
    for name, members in packages.items():
        write_zip(export / name, members)
        described[name] = {
            "sha256": sha256_file(export / name),
            "bytes": (export / name).stat().st_size,
            "members": sorted(members),
        }
    return described
