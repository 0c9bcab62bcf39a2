"""The canonical on-disk format (BEIR layout) and training pairs: validated readers and writers.

Readers never skip a bad record: a malformed line is a `DataFormatError` naming the
file, the line and the fault, because a silently dropped query or judgment changes
every metric computed downstream.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nsparse.io import atomic_open, write_jsonl

QRELS_HEADER = ("query-id", "corpus-id", "score")

Corpus = dict[str, dict[str, str]]  # _id -> {"title", "text"}
Queries = dict[str, str]  # _id -> text
Qrels = dict[str, dict[str, int]]  # query id -> {doc id: relevance}

PathLike = str | os.PathLike[str]


class DataFormatError(ValueError):
    """A record that breaks the format, reported as `file:line: fault`."""

    def __init__(self, path: PathLike, line: int | str, fault: str) -> None:
        super().__init__(f"{path}:{line}: {fault}")


@dataclass(frozen=True)
class Benchmark:
    """One split of a benchmark: the whole corpus, the judged queries, their judgments."""

    corpus: Corpus
    queries: Queries
    qrels: Qrels


def _json_objects(path: PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSON Lines file."""
    with Path(path).open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataFormatError(path, line_number, f"not valid JSON ({err.msg})") from err
            if not isinstance(record, dict):
                raise DataFormatError(path, line_number, f"expected a JSON object, got {type(record).__name__}")
            yield line_number, record


def _string_field(record: Mapping[str, Any], field: str, path: PathLike, line: int) -> str:
    value = record.get(field)
    if value is None:
        raise DataFormatError(path, line, f"missing field '{field}'")
    if not isinstance(value, str):
        raise DataFormatError(path, line, f"field '{field}' must be a string, got {type(value).__name__}")
    return value


def _check_new_id(seen: Mapping[str, Any], record_id: str, path: PathLike, line: int) -> None:
    if not record_id:
        raise DataFormatError(path, line, "empty '_id'")
    if record_id in seen:
        raise DataFormatError(path, line, f"duplicate _id {record_id!r}")


def read_corpus(path: PathLike) -> Corpus:
    """`corpus.jsonl` -> {_id: {"title", "text"}}; every line needs string `_id`, `title`, `text`."""
    corpus: Corpus = {}
    for line, record in _json_objects(path):
        doc_id = _string_field(record, "_id", path, line)
        _check_new_id(corpus, doc_id, path, line)
        corpus[doc_id] = {
            "title": _string_field(record, "title", path, line),
            "text": _string_field(record, "text", path, line),
        }
    return corpus


def read_queries(path: PathLike) -> Queries:
    """`queries.jsonl` -> {_id: text}; every line needs string `_id` and `text`."""
    queries: Queries = {}
    for line, record in _json_objects(path):
        query_id = _string_field(record, "_id", path, line)
        _check_new_id(queries, query_id, path, line)
        queries[query_id] = _string_field(record, "text", path, line)
    return queries


def read_qrels(
    path: PathLike,
    corpus_ids: Mapping[str, Any] | None = None,
    query_ids: Mapping[str, Any] | None = None,
) -> Qrels:
    """`qrels/<split>.tsv` -> {query id: {doc id: score}}, checking ids against the given corpus/queries."""
    qrels: Qrels = {}
    with Path(path).open(encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n")
        if tuple(header.split("\t")) != QRELS_HEADER:
            expected = "\t".join(QRELS_HEADER)
            raise DataFormatError(path, 1, f"expected header {expected!r}, got {header!r}")
        for line_number, line in enumerate(handle, start=2):
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                raise DataFormatError(path, line_number, f"expected 3 tab-separated fields, got {len(fields)}")
            query_id, doc_id, score_text = fields
            try:
                score = int(score_text)
            except ValueError as err:
                raise DataFormatError(path, line_number, f"score must be an integer, got {score_text!r}") from err
            if query_ids is not None and query_id not in query_ids:
                raise DataFormatError(path, line_number, f"unknown query id {query_id!r}")
            if corpus_ids is not None and doc_id not in corpus_ids:
                raise DataFormatError(path, line_number, f"unknown corpus id {doc_id!r}")
            judged = qrels.setdefault(query_id, {})
            if doc_id in judged:
                raise DataFormatError(path, line_number, f"duplicate judgment for ({query_id!r}, {doc_id!r})")
            judged[doc_id] = score
    return qrels


def load_benchmark(folder: PathLike, split: str) -> Benchmark:
    """Read a BEIR-layout folder (ours or any BEIR download); queries are restricted to the judged ones."""
    root = Path(folder)
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.exists():
        available = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        raise FileNotFoundError(f"{qrels_path}: no such split (available: {', '.join(available) or 'none'})")
    corpus = read_corpus(root / "corpus.jsonl")
    all_queries = read_queries(root / "queries.jsonl")
    qrels = read_qrels(qrels_path, corpus_ids=corpus, query_ids=all_queries)
    return Benchmark(corpus=corpus, queries={qid: all_queries[qid] for qid in qrels}, qrels=qrels)


def write_corpus(path: PathLike, corpus: Corpus) -> int:
    return write_jsonl(
        path, ({"_id": doc_id, "title": doc["title"], "text": doc["text"]} for doc_id, doc in corpus.items())
    )


def write_queries(path: PathLike, queries: Queries) -> int:
    return write_jsonl(path, ({"_id": query_id, "text": text} for query_id, text in queries.items()))


def write_qrels(path: PathLike, qrels: Qrels) -> int:
    """Write judgments with the BEIR header; return the number of judgment rows."""
    rows = 0
    with atomic_open(path) as handle:
        handle.write("\t".join(QRELS_HEADER) + "\n")
        for query_id, judged in qrels.items():
            for doc_id, score in judged.items():
                handle.write(f"{query_id}\t{doc_id}\t{score}\n")
                rows += 1
    return rows


def write_benchmark(folder: PathLike, corpus: Corpus, queries: Queries, qrels_by_split: Mapping[str, Qrels]) -> None:
    """Write a complete benchmark folder; every judged id must exist so readers accept it."""
    for split, qrels in qrels_by_split.items():
        for query_id, judged in qrels.items():
            if query_id not in queries:
                raise ValueError(f"benchmark {folder}: split {split} judges unknown query {query_id!r}")
            missing = [doc_id for doc_id in judged if doc_id not in corpus]
            if missing:
                raise ValueError(f"benchmark {folder}: split {split} judges unknown documents {missing[:3]}")
    root = Path(folder)
    write_corpus(root / "corpus.jsonl", corpus)
    write_queries(root / "queries.jsonl", queries)
    for split, qrels in qrels_by_split.items():
        write_qrels(root / "qrels" / f"{split}.tsv", qrels)


def read_pairs(path: PathLike) -> list[dict[str, Any]]:
    """Training pairs `{"query", "positive", "negatives": [...], "source"}`, validated line by line."""
    pairs = []
    for line, record in _json_objects(path):
        negatives = record.get("negatives")
        if not isinstance(negatives, list) or not all(isinstance(text, str) for text in negatives):
            raise DataFormatError(path, line, "field 'negatives' must be a list of strings")
        pairs.append(
            {
                "query": _string_field(record, "query", path, line),
                "positive": _string_field(record, "positive", path, line),
                "negatives": negatives,
                "source": _string_field(record, "source", path, line),
            }
        )
    return pairs


def write_pairs(path: PathLike, pairs: list[dict[str, Any]]) -> int:
    return write_jsonl(path, pairs)
