"""Every reader names `file:line: fault` for the faults real files have: encoding, blanks, duplicates, nesting."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from nsparse.data import (
    DataFormatError,
    load_benchmark,
    read_corpus,
    read_pairs,
    read_qrels,
    read_queries,
    write_benchmark,
)
from nsparse.data.format import read_parallel, read_verified_dictionary
from nsparse.data.sources import read_korquad, read_libreoffice_parallel, read_muse
from nsparse.dictionary import read_dictionary
from nsparse.eval import evaluate

GOOD_DOC = '{"_id": "d1", "title": "", "text": "학교"}'
PAIR = {"query": "학교", "positive": "학교에서 공부한다", "negatives": ["집에서 쉰다"], "source": "test"}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("second_line", "fault"),
    [
        ('{"_id": "d2", "title": "", "text": "caf\xe9"}'.encode("latin-1"), "not UTF-8: byte 0xe9 at column 40"),
        (b'{"_id": "d2", "_id": "d3", "title": "", "text": "x"}', "key '_id' appears twice in one object"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply to read"),
        (b'{"_id": "d2", "title": " ", "text": "  "}', "document 'd2' has an empty title and text"),
    ],
)
def test_corpus_faults(tmp_path, second_line, fault):
    path = _write(tmp_path, "corpus.jsonl", GOOD_DOC.encode() + b"\n" + second_line + b"\n")
    with pytest.raises(DataFormatError) as raised:
        read_corpus(path)
    assert str(raised.value) == f"{path}:2: {fault}"


def test_a_title_only_document_is_accepted(tmp_path):
    path = _write(tmp_path, "corpus.jsonl", b'{"_id": "d1", "title": "title only", "text": ""}\n')
    assert read_corpus(path) == {"d1": {"title": "title only", "text": ""}}


@pytest.mark.parametrize(
    ("line", "fault"),
    [
        (b'{"_id": "q1", "text": ""}', "query 'q1' has an empty text"),
        (b'{"_id": "q1", "text": "\xff"}', "not UTF-8: byte 0xff at column 24"),
        (b'{"_id": "q1", "text": "a", "_id": "q2"}', "key '_id' appears twice in one object"),
    ],
)
def test_query_faults(tmp_path, line, fault):
    path = _write(tmp_path, "queries.jsonl", line + b"\n")
    with pytest.raises(DataFormatError) as raised:
        read_queries(path)
    assert str(raised.value) == f"{path}:1: {fault}"


def test_qrels_encoding_fault_names_the_line(tmp_path):
    path = _write(tmp_path, "test.tsv", b"query-id\tcorpus-id\tscore\nq1\td1\t1\nq\xc3\td1\t1\n")
    with pytest.raises(DataFormatError, match=r"test.tsv:3: not UTF-8: byte 0xc3 at column 2$"):
        read_qrels(path)


@pytest.mark.parametrize(
    ("content", "where", "fault"),
    [
        (b"", 1, "no training pairs (the file is empty)"),
        (b"\n\n", 1, "no training pairs (the file is empty)"),
        (json.dumps({**PAIR, "query": " "}).encode(), 1, "field 'query' is empty"),
        (json.dumps({**PAIR, "negatives": [""]}).encode(), 1, "field 'negatives' holds an empty string"),
        (b'{"query": "a", "query": "b"}', 1, "key 'query' appears twice in one object"),
    ],
)
def test_pairs_faults(tmp_path, content, where, fault):
    path = _write(tmp_path, "pairs.jsonl", content)
    with pytest.raises(DataFormatError) as raised:
        read_pairs(path)
    assert str(raised.value) == f"{path}:{where}: {fault}"


def test_a_positive_among_its_own_negatives_is_dropped_counted_and_logged(tmp_path, caplog):
    pair = {**PAIR, "negatives": [PAIR["positive"], "집에서 쉰다", PAIR["positive"]]}
    path = _write(tmp_path, "pairs.jsonl", (json.dumps(pair, ensure_ascii=False) + "\n").encode())
    with caplog.at_level(logging.WARNING):
        pairs = read_pairs(path)
    assert pairs[0]["negatives"] == ["집에서 쉰다"]
    assert "dropped 2 negatives equal to their own pair's positive" in caplog.text


def test_dictionary_readers(tmp_path):
    verified = _write(tmp_path, "dictionary.tsv", "학교\tschool\t0.9\tmuse\n의사\tdoctor\tnan\tllm\n".encode())
    with pytest.raises(DataFormatError, match=r"dictionary.tsv:2: score 'nan' is not a finite number$"):
        read_verified_dictionary(verified)
    seed = _write(tmp_path, "seed.tsv", "학교\tschool\n".encode() + "의사".encode("euc-kr") + b"\tdoctor\n")
    with pytest.raises(DataFormatError, match=r"seed.tsv:2: not UTF-8: byte 0xc0 at column 1$"):
        read_dictionary(seed)
    muse = _write(tmp_path, "muse.txt", b"school \xed\x95\x99\xea\xb5\x90\nbad \xed\x95\n")
    with pytest.raises(DataFormatError, match=r"muse.txt:2: not UTF-8: byte 0xed at column 5$"):
        read_muse(muse)


def test_parallel_and_source_json_readers(tmp_path):
    parallel = _write(tmp_path, "libreoffice.jsonl", b'{"id": "p", "ko": "a", "en": "b", "ko": "c"}\n')
    with pytest.raises(DataFormatError, match=r"libreoffice.jsonl:1: key 'ko' appears twice in one object$"):
        read_parallel(parallel)
    korquad = _write(tmp_path, "korquad.json", b'{"data": [\n{"title": "\xb1"}]}')
    with pytest.raises(DataFormatError, match=r"korquad.json:2: not UTF-8: byte 0xb1$"):
        read_korquad(korquad)
    deep = _write(tmp_path, "deep.json", b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(DataFormatError, match=r"deep.json: JSON nested too deeply to read$"):
        read_korquad(deep)
    twice = _write(tmp_path, "twice.json", b'{"data": [],\n "data": []}')
    with pytest.raises(DataFormatError, match=r"twice.json: key 'data' appears twice in one object$"):
        read_korquad(twice)
    broken = _write(tmp_path, "broken.json", b'{"data": [\n\n  {"title": }]}')
    with pytest.raises(DataFormatError, match=r"broken.json:3: not valid JSON \(Expecting value\)$"):
        read_korquad(broken)


def test_a_help_page_that_is_not_utf8_names_its_line(tmp_path):
    for language in ("ko", "en-US"):
        (tmp_path / language).mkdir()
    (tmp_path / "ko" / "page.html").write_bytes(b'<p id="par_id1">\n\xb0\xa1</p>')
    (tmp_path / "en-US" / "page.html").write_bytes(b'<p id="par_id1">A</p>')
    with pytest.raises(DataFormatError, match=r"page.html:2: not UTF-8: byte 0xb0 at column 1$"):
        read_libreoffice_parallel(tmp_path)


def test_a_query_judged_only_non_relevant_is_left_out_not_scored_zero(tmp_path, caplog):
    qrels = {"q1": {"d1": 0}, "q2": {"d2": 1}}
    perfect = {"q1": {"d1": 1.0}, "q2": {"d2": 1.0}}
    with caplog.at_level(logging.WARNING):
        result = evaluate(qrels, perfect)
    assert result.summary == {"ndcg@10": 1.0, "mrr@10": 1.0, "recall@100": 1.0}
    assert result.excluded == ("q1",) and "no relevant judgment" in caplog.text
    assert evaluate({"q2": {"d2": 1, "d3": -1}}, {"q2": {"d3": 2.0, "d2": 1.0}}).summary["mrr@10"] == 0.5

    corpus = {"d1": {"title": "", "text": "a"}, "d2": {"title": "", "text": "b"}}
    write_benchmark(tmp_path / "b", corpus, {"q1": "a", "q2": "b"}, {"test": qrels})
    benchmark = load_benchmark(tmp_path / "b", "test")
    assert benchmark.queries == {"q2": "b"} and benchmark.qrels == {"q2": {"d2": 1}}
    with pytest.raises(ValueError, match="none of the 1 judged queries has a relevant judgment"):
        evaluate({"q1": {"d1": 0}}, perfect)
