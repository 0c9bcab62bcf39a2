"""nsparse.data: the canonical BEIR-style format, raw-source converters and benchmark building."""

from nsparse.data.format import (
    Benchmark,
    load_benchmark,
    read_corpus,
    read_pairs,
    read_qrels,
    read_queries,
    write_benchmark,
    write_corpus,
    write_pairs,
    write_qrels,
    write_queries,
)
from nsparse.io import DataFormatError

__all__ = [
    "Benchmark",
    "DataFormatError",
    "load_benchmark",
    "read_corpus",
    "read_pairs",
    "read_qrels",
    "read_queries",
    "write_benchmark",
    "write_corpus",
    "write_pairs",
    "write_qrels",
    "write_queries",
]
