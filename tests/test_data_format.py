import json

import pytest

from nsparse.data import (
    DataFormatError,
    load_benchmark,
    read_corpus,
    read_pairs,
    read_qrels,
    read_queries,
    write_benchmark,
    write_pairs,
)

CORPUS = {"d1": {"title": "학교", "text": "학교에서 공부한다"}, "d2": {"title": "", "text": "집에서 쉰다"}}
QUERIES = {"q1": "학교 공부", "q2": "집", "q3": "unjudged"}
QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1, "d1": 0}}


@pytest.fixture
def benchmark_dir(tmp_path):
    folder = tmp_path / "bench"
    write_benchmark(folder, CORPUS, QUERIES, {"test": QRELS})
    return folder


def test_benchmark_round_trip_keeps_everything_and_restricts_queries_to_judged(benchmark_dir):
    benchmark = load_benchmark(benchmark_dir, "test")
    assert benchmark.corpus == CORPUS
    assert benchmark.qrels == QRELS
    assert benchmark.queries == {"q1": "학교 공부", "q2": "집"}
    assert read_queries(benchmark_dir / "queries.jsonl") == QUERIES
    assert (benchmark_dir / "qrels" / "test.tsv").read_text().splitlines()[0] == "query-id\tcorpus-id\tscore"


def test_load_benchmark_unknown_split_lists_available(benchmark_dir):
    with pytest.raises(FileNotFoundError, match="available: test"):
        load_benchmark(benchmark_dir, "dev")


def test_write_benchmark_refuses_judgment_of_unknown_document(tmp_path):
    with pytest.raises(ValueError, match="unknown documents"):
        write_benchmark(tmp_path / "b", CORPUS, QUERIES, {"test": {"q1": {"d9": 1}}})


@pytest.mark.parametrize(
    ("second_line", "fault"),
    [
        ('{"_id": "d2", "title": "", "text": "x"', "not valid JSON"),
        ('["d2", "x"]', "expected a JSON object"),
        ('{"_id": "d2", "title": ""}', "missing field 'text'"),
        ('{"_id": "d2", "title": "", "text": 3}', "field 'text' must be a string"),
        ('{"_id": 2, "title": "", "text": "x"}', "field '_id' must be a string"),
        ('{"_id": "d1", "title": "", "text": "x"}', "duplicate _id 'd1'"),
    ],
)
def test_read_corpus_reports_file_line_and_fault(tmp_path, second_line, fault):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"_id": "d1", "title": "", "text": "a"}\n' + second_line + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=rf"corpus.jsonl:2: {fault}"):
        read_corpus(path)


def test_read_queries_rejects_duplicates(tmp_path):
    path = tmp_path / "queries.jsonl"
    path.write_text('{"_id": "q1", "text": "a"}\n\n{"_id": "q1", "text": "b"}\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"queries.jsonl:3: duplicate _id 'q1'"):
        read_queries(path)


@pytest.mark.parametrize(
    ("content", "fault"),
    [
        ("query\tdoc\tscore\nq1\td1\t1\n", r":1: expected header"),
        ("query-id\tcorpus-id\tscore\nq1\td1\n", r":2: expected 3 tab-separated fields, got 2"),
        ("query-id\tcorpus-id\tscore\nq1\td1\thigh\n", r":2: score must be an integer"),
        ("query-id\tcorpus-id\tscore\nq1\td1\t1\nq9\td1\t1\n", r":3: unknown query id 'q9'"),
        ("query-id\tcorpus-id\tscore\nq1\td9\t1\n", r":2: unknown corpus id 'd9'"),
        ("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\t0\n", r":3: duplicate judgment"),
    ],
)
def test_read_qrels_reports_file_line_and_fault(tmp_path, content, fault):
    path = tmp_path / "test.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError, match="test.tsv" + fault):
        read_qrels(path, corpus_ids=CORPUS, query_ids=QUERIES)


def test_load_benchmark_rejects_qrels_naming_a_missing_document(benchmark_dir):
    (benchmark_dir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td7\t1\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"test.tsv:2: unknown corpus id 'd7'"):
        load_benchmark(benchmark_dir, "test")


def test_pairs_round_trip(tmp_path):
    pairs = [{"query": "학교", "positive": "학교에서", "negatives": ["집", "회사"], "source": "msmarco-ko"}]
    write_pairs(tmp_path / "pairs.jsonl", pairs)
    assert read_pairs(tmp_path / "pairs.jsonl") == pairs


@pytest.mark.parametrize(
    ("record", "fault"),
    [
        ({"query": "q", "positive": "p", "negatives": "n", "source": "s"}, "'negatives' must be a list of strings"),
        ({"query": "q", "positive": "p", "negatives": [1], "source": "s"}, "'negatives' must be a list of strings"),
        ({"query": "q", "negatives": [], "source": "s"}, "missing field 'positive'"),
        ({"query": "q", "positive": "p", "negatives": []}, "missing field 'source'"),
    ],
)
def test_read_pairs_reports_file_line_and_fault(tmp_path, record, fault):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=rf"pairs.jsonl:1: .*{fault}"):
        read_pairs(path)
