"""The canonical on-disk format (BEIR layout) and training pairs: validated readers and writers.

Readers do not silently skip a bad record: a malformed line is a `DataFormatError`
naming the file, the line and the fault (`file:line: fault`), because a silently
dropped query or judgment changes every metric computed downstream. Faults every
reader reports so: bytes that are not UTF-8, a line that is not JSON, a JSON object
with a key twice (`{"_id": "a", "_id": "b"}`: which one is meant?), a line nested so
deeply that the parser gives up, empty texts (see each reader). The few
repairs that keep the data's meaning (a training pair's negative equal to its own
positive) are counted and logged, never silent.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nsparse.io import DataFormatError, atomic_open, write_jsonl

QRELS_HEADER = ("query-id", "corpus-id", "score")

Corpus = dict[str, dict[str, str]]  # _id -> {"title", "text"}
Queries = dict[str, str]  # _id -> text
Qrels = dict[str, dict[str, int]]  # query id -> {doc id: relevance}

PathLike = str | os.PathLike[str]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Benchmark:
    """One split of a benchmark: the whole corpus, the judged queries, their judgments."""

    corpus: Corpus
    queries: Queries
    qrels: Qrels


def text_lines(path: PathLike) -> Iterator[tuple[int, str]]:
    """(line number, text without its newline) of a UTF-8 text file; bytes that are not UTF-8 name their line.

    Why not `open(encoding="utf-8")`: its UnicodeDecodeError names a byte offset in
    an 8 KiB buffer, not the line a person can open and fix.
    """
    with Path(path).open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                yield line_number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise DataFormatError(
                    path, line_number, f"not UTF-8: byte 0x{raw[err.start]:02x} at column {err.start + 1}"
                ) from None


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key, value in pairs:
        if key in record:
            raise _DuplicateKey(key)
        record[key] = value
    return record


def parse_json(text: str, path: PathLike, line: int | None) -> Any:
    """`json.loads` whose faults (bad JSON, a key twice in one object, absurd nesting) are DataFormatErrors.

    `line`: the line `text` is (JSON Lines), or None for a whole JSON document, whose
    syntax errors then name their own line and the other faults name no line.
    """
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as err:
        raise DataFormatError(path, err.lineno if line is None else line, f"not valid JSON ({err.msg})") from None
    except _DuplicateKey as err:
        raise DataFormatError(path, line, f"key {err.args[0]!r} appears twice in one object") from None
    except RecursionError:
        raise DataFormatError(path, line, "JSON nested too deeply to read") from None


def _json_objects(path: PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSON Lines file."""
    for line_number, line in text_lines(path):
        if not line.strip():
            continue
        record = parse_json(line, path, line_number)
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
    """`corpus.jsonl` -> {_id: {"title", "text"}}; every line needs string `_id`, `title`, `text`.

    Errors: a duplicate `_id`, and a document whose title and text are both blank (it
    can match no query; a title-only document, as some BEIR corpora have, is fine).
    """
    corpus: Corpus = {}
    for line, record in _json_objects(path):
        doc_id = _string_field(record, "_id", path, line)
        _check_new_id(corpus, doc_id, path, line)
        title, text = _string_field(record, "title", path, line), _string_field(record, "text", path, line)
        if not title.strip() and not text.strip():
            raise DataFormatError(path, line, f"document {doc_id!r} has an empty title and text")
        corpus[doc_id] = {"title": title, "text": text}
    return corpus


def read_queries(path: PathLike) -> Queries:
    """`queries.jsonl` -> {_id: text}; every line needs string `_id` and `text`.

    Errors: a duplicate `_id`, and a blank `text` (dropping the query would silently
    change every metric of the queries judged with it).
    """
    queries: Queries = {}
    for line, record in _json_objects(path):
        query_id = _string_field(record, "_id", path, line)
        _check_new_id(queries, query_id, path, line)
        text = _string_field(record, "text", path, line)
        if not text.strip():
            raise DataFormatError(path, line, f"query {query_id!r} has an empty text")
        queries[query_id] = text
    return queries


def read_qrels(
    path: PathLike,
    corpus_ids: Mapping[str, Any] | None = None,
    query_ids: Mapping[str, Any] | None = None,
) -> Qrels:
    """`qrels/<split>.tsv` -> {query id: {doc id: score}}, checking ids against the given corpus/queries.

    Every row is kept as written, scores <= 0 included: they mean "judged not
    relevant" (see `load_benchmark` and `nsparse.eval.evaluate`, which leave out
    queries without a relevant judgment). Errors: bad header, field count, non-integer
    score, unknown ids, a (query, document) pair judged twice.
    """
    qrels: Qrels = {}
    lines = text_lines(path)
    _, header = next(lines, (1, ""))
    if tuple(header.split("\t")) != QRELS_HEADER:
        expected = "\t".join(QRELS_HEADER)
        raise DataFormatError(path, 1, f"expected header {expected!r}, got {header!r}")
    for line_number, line in lines:
        if not line.strip():
            continue
        fields = line.split("\t")
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
    """Read a BEIR-layout folder (ours or any BEIR download); queries are restricted to the judged ones.

    A query counts as judged only with at least one relevant judgment (score > 0):
    one judged only "not relevant" cannot be scored, so it is left out (and logged),
    as BEIR's tools do, instead of scoring 0 for every system.
    """
    root = Path(folder)
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.exists():
        available = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        raise FileNotFoundError(f"{qrels_path}: no such split (available: {', '.join(available) or 'none'})")
    corpus = read_corpus(root / "corpus.jsonl")
    all_queries = read_queries(root / "queries.jsonl")
    qrels = read_qrels(qrels_path, corpus_ids=corpus, query_ids=all_queries)
    unscorable = {qid for qid, judged in qrels.items() if not any(score > 0 for score in judged.values())}
    if unscorable:
        log.warning(
            "%s: %d queries have no relevant judgment (score > 0) and are left out, e.g. %s",
            qrels_path,
            len(unscorable),
            sorted(unscorable)[:3],
        )
        qrels = {qid: judged for qid, judged in qrels.items() if qid not in unscorable}
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
    """Training pairs `{"query", "positive", "negatives": [...], "source"}`, validated line by line.

    Errors: an empty file (no pairs: training would fail later, less clearly), a blank
    query or positive, a negative that is not a string or is blank. Repaired, counted
    and logged: a negative equal to the pair's own positive (a mining artefact that
    would teach the model to push the right answer away) is dropped from that pair.
    """
    pairs = []
    dropped = 0
    for line, record in _json_objects(path):
        negatives = record.get("negatives")
        if not isinstance(negatives, list) or not all(isinstance(text, str) for text in negatives):
            raise DataFormatError(path, line, "field 'negatives' must be a list of strings")
        if not all(text.strip() for text in negatives):
            raise DataFormatError(path, line, "field 'negatives' holds an empty string")
        query, positive = _string_field(record, "query", path, line), _string_field(record, "positive", path, line)
        for field, value in (("query", query), ("positive", positive)):
            if not value.strip():
                raise DataFormatError(path, line, f"field '{field}' is empty")
        kept = [text for text in negatives if text != positive]
        dropped += len(negatives) - len(kept)
        pairs.append(
            {
                "query": query,
                "positive": positive,
                "negatives": kept,
                "source": _string_field(record, "source", path, line),
            }
        )
    if not pairs:
        raise DataFormatError(path, 1, "no training pairs (the file is empty)")
    if dropped:
        log.warning("%s: dropped %d negatives equal to their own pair's positive", path, dropped)
    return pairs


def write_pairs(path: PathLike, pairs: list[dict[str, Any]]) -> int:
    return write_jsonl(path, pairs)


# --- parallel text and dictionaries (read by synonym mining and the translation table) ---


def read_parallel(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(ko, en) paragraphs of `data/parallel/*.jsonl`; a malformed line is an error naming it.

    Errors (`file:line: fault`): bytes that are not UTF-8, bad JSON, a key twice, absurd
    nesting, missing or non-string `id`/`ko`/`en`. Blank lines are skipped.
    """
    paragraphs = []
    for line_number, line in text_lines(path):
        if not line.strip():
            continue
        record = parse_json(line, path, line_number)
        if not isinstance(record, dict) or not all(isinstance(record.get(key), str) for key in ("id", "ko", "en")):
            raise DataFormatError(path, line_number, "expected an object with string fields 'id', 'ko', 'en'")
        paragraphs.append((record["ko"], record["en"]))
    return paragraphs


def read_verified_dictionary(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """{korean: [english, ...]} from a `write_verified_dictionary` file, best score first (the file's order).

    This is the form `nsparse.codeswitch.code_switch` takes; a row that is not
    `ko\ten\tscore\tsource` with a finite numeric score is an error naming the file and
    line, as are bytes that are not UTF-8. A `nan`/`inf` score is an error too: the
    verifier that wrote it failed, and the file's best-first order means nothing.
    """
    dictionary: dict[str, list[str]] = {}
    for line_number, line in text_lines(path):
        fields = line.split("\t")
        if len(fields) != 4 or not all(fields):
            raise DataFormatError(path, line_number, f"expected 'ko<TAB>en<TAB>score<TAB>source', got {line!r}")
        try:
            score = float(fields[2])
        except ValueError:
            raise DataFormatError(path, line_number, f"score {fields[2]!r} is not a number") from None
        if not math.isfinite(score):
            raise DataFormatError(path, line_number, f"score {fields[2]!r} is not a finite number")
        translations = dictionary.setdefault(fields[0], [])
        if fields[1] not in translations:
            translations.append(fields[1])
    return dictionary
