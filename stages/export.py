"""Stage `export <variant>`: ONNX (parity-gated), int8, TorchScript, ML Commons zips, encoding benchmark.

Usage: python -m stages.export v1
"""

from __future__ import annotations

import sys
from pathlib import Path

from nsparse.config import load_params
from nsparse.data import load_benchmark
from nsparse.eval.bm25 import document_text
from nsparse.export.package import export_variant
from nsparse.io import write_json
from nsparse.model.threads import configure_threads
from nsparse.train.validation import capped_validation_set


def main(variant: str) -> None:
    params = load_params()
    export, paths = params.export, params.paths
    configure_threads(export.threads)
    benchmarks = Path(paths.benchmarks)
    parity_source = load_benchmark(benchmarks / export.parity.benchmark, export.parity.split)
    parity_texts = [document_text(parity_source.corpus[doc_id]) for doc_id in sorted(parity_source.corpus)]
    bench = export.bench
    subset = capped_validation_set(
        load_benchmark(benchmarks / bench.benchmark, bench.split), bench.max_docs, bench.max_queries, params.seed
    )
    figures = export_variant(
        Path(paths.models) / variant,
        Path(paths.exports) / variant,
        parity_texts[: export.parity.texts],
        subset,
        export,
    )
    write_json(Path(paths.reports) / variant / "encode_bench.json", figures)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m stages.export <variant>")
    main(sys.argv[1])
