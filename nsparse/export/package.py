"""One variant's export: ONNX + parity gate + int8 + TorchScript + ML Commons zips + manifest + benchmark; and the
smaller package deploy makes of a model fitted to one corpus (`package_fitted`).

Everything is written into a staging folder that replaces the target folder only when
the whole export (parity check included) succeeded.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nsparse.export.bench import encoding_benchmark
from nsparse.export.mlcommons import export_torchscript, write_packages
from nsparse.export.onnx import (
    MAX_IR_VERSION,
    MAX_OPSET,
    check_loadable_by_ml_commons,
    check_parity,
    export_onnx,
    quantize_int8,
)
from nsparse.io import sha256_file, write_json
from nsparse.model.encoder import SparseEncoder
from nsparse.params import Export
from nsparse.train.validation import ValidationSet


def export_variant(
    model_dir: str | os.PathLike[str],
    export_dir: str | os.PathLike[str],
    parity_texts: Sequence[str],
    bench_subset: ValidationSet,
    export: Export,
) -> dict[str, Any]:
    """Export the saved encoder in `model_dir` to `export_dir` as params.yaml's `export:` says; return the encoding
    benchmark figures.

    Raises `ParityError` (and leaves `export_dir` untouched) if ONNX and PyTorch disagree.
    """
    target = Path(export_dir)
    staging = target.with_name(f".{target.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    encoder = SparseEncoder.load(model_dir).eval()
    onnx_models = {"onnx_fp32": staging / "model.onnx"}
    export_onnx(encoder, onnx_models["onnx_fp32"], export.opset)
    parity = check_parity(encoder, onnx_models["onnx_fp32"], parity_texts, export.parity.atol, export.parity.top_k)
    # Without a transformer the graph is a lookup and a scatter: int8 would quantize nothing, and ML Commons
    # runs the ONNX graph, so a TorchScript copy would only be a second file to keep in step.
    transformer = encoder.has_transformer()
    if export.quantize and transformer:
        onnx_models["onnx_int8"] = staging / "model.int8.onnx"
        quantize_int8(onnx_models["onnx_fp32"], onnx_models["onnx_int8"])
    if transformer:
        export_torchscript(encoder, staging / "model.pt")
    packages = write_packages(encoder, staging, parity_texts)
    onnx_paths = {name: str(path) for name, path in onnx_models.items()}
    bench = encoding_benchmark(encoder, onnx_paths, bench_subset, export.bench.batch_size, export.parity.top_k)
    bench["parity"] = parity
    files = {
        path.name: {"sha256": sha256_file(path), "bytes": path.stat().st_size, **check_loadable_by_ml_commons(path)}
        for path in onnx_models.values()
    }
    manifest = {
        "model": str(model_dir),
        "encoder": encoder.settings.__dict__,
        "target_runtime": {
            "onnxruntime": "1.16.3 (ML Commons 3.6.0 and 2.19.1)",
            "max_opset": MAX_OPSET,
            "max_ir_version": MAX_IR_VERSION,
        },
        "files": {**files, **packages},
        "parity": parity,
        "int8": {
            key: bench["backends"]["onnx_int8"][key]
            for key in ("max_abs_diff", "top_k_mismatches", "ndcg@10", "ndcg_ratio_vs_pytorch")
        }
        if "onnx_int8" in onnx_models
        else None,
    }
    write_json(staging / "manifest.json", manifest)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return bench


def package_fitted(
    encoder: SparseEncoder, target_dir: str | os.PathLike[str], parity_texts: Sequence[str], export: Export
) -> dict[str, Any]:
    """ONNX (parity-gated) and the two ML Commons zips of an encoder whose statistics were fitted to one corpus.

    The graph bakes in the corpus's mean document length and the query model carries its IDF,
    so each corpus deploys its own pair. `export` (params.yaml's) gives the opset and the parity gate.
    Returns the manifest (also written as manifest.json).
    """
    target = Path(target_dir)
    staging = target.with_name(f".{target.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    export_onnx(encoder, staging / "model.onnx", export.opset)
    parity = check_parity(encoder, staging / "model.onnx", parity_texts, export.parity.atol, export.parity.top_k)
    manifest = {
        "fitted_to": encoder.fitted_corpus,
        "encoder": encoder.settings.__dict__,
        "files": write_packages(encoder, staging, parity_texts),
        "parity": parity,
    }
    write_json(staging / "manifest.json", manifest)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return manifest
