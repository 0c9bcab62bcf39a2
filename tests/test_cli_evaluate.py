"""`nsparse evaluate|encode|explain` as a user runs them (the entry point once as a process) on a tiny saved model
and BEIR folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import PARAMS, ROOT, TEXTS, run_cli, run_cli_process, tiny_encoder
from nsparse.data import load_benchmark, write_benchmark
from nsparse.eval import SparseRetriever, evaluate, sparse_cost
from nsparse.eval.bm25 import BM25Kiwi, document_text
from nsparse.model.encoder import SparseEncoder
from nsparse.opensearch.index import rank_features_precision
from nsparse.pipeline.fitting import encode_corpus, fit_to_corpus

QUERIES = {"q0": "대한민국의 수도", "q1": "김치 음식", "q2": "Seoul capital", "q3": "부산 기차"}
QRELS = {"q0": {"d0": 1}, "q1": {"d3": 1}, "q2": {"d2": 1}, "q3": {"d4": 1, "d1": 1}}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny model (`model/`) and a BEIR folder (`beir/`, titles on some documents)."""
    root = tmp_path_factory.mktemp("cli")
    tiny_encoder().save(root / "model")
    corpus = {f"d{i}": {"title": "도시" if i % 2 else "", "text": text} for i, text in enumerate(TEXTS)}
    write_benchmark(root / "beir", corpus, QUERIES, {"test": QRELS, "dev": {"q0": {"d0": 1}}})
    return root


def benchmark_exact_figures(model: Path, beir: Path) -> dict[str, float]:
    """The benchmark stage's exact run, step for step: the model's document vectors at `rank_features`
    precision (`rank_features_precision`) and its query vectors -> `SparseRetriever`."""
    encoder = SparseEncoder.load(model)
    bench = load_benchmark(beir, "test")
    doc_ids = list(bench.corpus)
    doc_matrix = encoder.encode_documents([document_text(bench.corpus[i]) for i in doc_ids])
    doc_matrix.data = rank_features_precision(doc_matrix.data)
    query_ids = list(bench.queries)
    query_matrix = encoder.encode_queries([bench.queries[q] for q in query_ids])
    run = SparseRetriever(doc_matrix, doc_ids).search(query_matrix, query_ids, 100)
    return {**evaluate(bench.qrels, run).summary, **sparse_cost(query_matrix, doc_matrix)}


def test_evaluate_reproduces_the_benchmark_exact_run_and_bm25(workspace: Path) -> None:
    k1, b = str(PARAMS.bm25.k1), str(PARAMS.bm25.b)
    flags = ("--baseline", "bm25", "--bm25-k1", k1, "--bm25-b", b)
    result = run_cli("evaluate", "model", "beir", *flags, "--output", "out.json", cwd=workspace)
    assert result.returncode == 0, result.stderr
    assert "ndcg@10" in result.stdout and "bm25_kiwi" in result.stdout  # the terminal table
    assert f"bm25_kiwi: k1 {k1}, b {b} (--bm25-k1/--bm25-b)" in result.stdout
    report = json.loads((workspace / "out.json").read_text())
    assert (report["documents"], report["queries"], report["split"]) == (5, 4, "test")
    expected = benchmark_exact_figures(workspace / "model", workspace / "beir")
    for metric, value in expected.items():
        assert report["systems"]["model"][metric] == pytest.approx(value, abs=1e-4), metric
    bench = load_benchmark(workspace / "beir", "test")
    bm25 = evaluate(bench.qrels, BM25Kiwi(bench.corpus, float(k1), float(b)).search(bench.queries, 100)).summary
    assert report["systems"]["bm25_kiwi"] == pytest.approx(bm25, abs=1e-9)


def test_bm25_takes_k1_and_b_from_the_project_params_and_has_none_of_its_own(workspace: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "params.yaml").write_text((ROOT / "params.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    model, beir = str(workspace / "model"), str(workspace / "beir")
    inside = run_cli("evaluate", model, beir, "--baseline", "bm25", "--max-queries", "1", "--quiet", cwd=project)
    assert inside.returncode == 0, inside.stderr
    assert f"bm25_kiwi: k1 {PARAMS.bm25.k1}, b {PARAMS.bm25.b} (params.yaml bm25)" in inside.stdout
    outside = run_cli("evaluate", model, beir, "--baseline", "bm25", cwd=workspace)  # no params.yaml there
    assert outside.returncode == 1
    assert "takes k1 and b from the project's params.yaml" in outside.stderr and "--bm25-k1" in outside.stderr


def test_evaluate_fits_a_floor_model_to_the_corpus_unless_asked_for_it_as_shipped(
    workspace: Path, exported_variant: tuple[Path, Path]
) -> None:
    model_dir, _ = exported_variant
    bench = load_benchmark(workspace / "beir", "test")
    fitted = run_cli("evaluate", str(model_dir), "beir", "--output", "fitted.json", cwd=workspace)
    assert fitted.returncode == 0, fitted.stderr
    assert "statistics: fitted to this corpus (5 documents" in fitted.stdout
    shipped = run_cli("evaluate", str(model_dir), "beir", "--as-shipped", "--output", "shipped.json", cwd=workspace)
    assert shipped.returncode == 0 and "statistics: as shipped" in shipped.stdout
    for name, fit in (("fitted.json", True), ("shipped.json", False)):
        report = json.loads((workspace / name).read_text())
        encoder = SparseEncoder.load(model_dir).eval()
        if fit:
            fit_to_corpus(encoder, bench.corpus)
        assert report["statistics"] == {"mode": "fitted" if fit else "as-shipped", "fitted_to": encoder.fitted_corpus}
        doc_ids, docs = encode_corpus(encoder, bench.corpus, progress=False)
        queries = encoder.encode_queries(list(bench.queries.values()))
        run = SparseRetriever(docs, doc_ids).search(queries, list(bench.queries), 100)
        ndcg = evaluate(bench.qrels, run).summary["ndcg@10"]
        assert report["systems"][model_dir.name]["ndcg@10"] == pytest.approx(ndcg, abs=1e-9), name


def test_encoding_in_chunks_equals_encoding_at_once() -> None:
    encoder = tiny_encoder()
    corpus = {f"d{i}": {"title": "", "text": text} for i, text in enumerate(TEXTS)}
    ids, chunked = encode_corpus(encoder, corpus, batch_size=2, chunk_size=2, progress=False)
    whole = encoder.encode_documents([document_text(corpus[i]) for i in ids])
    whole.data = rank_features_precision(whole.data)
    assert ids == list(corpus) and chunked.shape == whole.shape
    assert np.abs((chunked - whole).toarray()).max() <= 1e-2 * whole.data.max()  # at most one truncation step apart


@pytest.mark.parametrize(
    ("args", "fault"),
    [
        (["evaluate", "model", "missing"], "missing: no such folder"),
        (["evaluate", "model", "model"], "not a BEIR folder (no corpus.jsonl)"),
        (["evaluate", "model", "beir", "--split", "train"], "no split 'train'"),
        (["evaluate", "model", "beir", "--bm25-k1", "1.2", "--bm25-b", "0.75"], "which was not asked for"),
        (["evaluate", "model", "beir", "--baseline", "bm25", "--bm25-k1", "1.2"], "go together"),
        (["evaluate", "model", "beir", "--baseline", "bm25", "--bm25-k1", "1", "--bm25-b", "2"], "b: "),
        (["evaluate", "/no/such/model", "beir"], "no such model folder"),
        (["evaluate", "beir/corpus.jsonl", "beir"], "not a folder"),
        (["evaluate", "beir", "beir"], "not a saved model"),
        (["encode", "./missing-model", "텍스트"], "no such model folder"),
        (["explain", "/no/such/model", "--query", "q", "--doc", "d"], "no such model folder"),
    ],
)
def test_bad_inputs_fail_with_one_clear_line(workspace: Path, args: list[str], fault: str) -> None:
    result = run_cli(*args, cwd=workspace)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"nsparse {args[0]}: ") and fault in lines[0]


def test_every_command_has_help_with_an_example(workspace: Path) -> None:
    for command in ("evaluate", "encode", "explain", "search"):
        result = run_cli_process(command, "--help", cwd=workspace)
        assert result.returncode == 0 and f"nsparse {command} " in result.stdout.split("example")[-1], result.stdout


def test_encode_and_explain_mark_expansion_terms_and_break_the_score_down(workspace: Path) -> None:
    encoder = SparseEncoder.load(workspace / "model")
    text, query = TEXTS[0], "대한민국 수도"
    encoded = run_cli("encode", "model", text, "--query", "--json", cwd=workspace)
    assert encoded.returncode == 0, encoded.stderr
    (entry,) = json.loads(encoded.stdout)
    in_text = set(encoder.tokenizer(text)["input_ids"])
    vocab = encoder.tokenizer.get_vocab()
    expected_doc = encoder.to_token_weights(encoder.encode_documents([text])[0])
    assert [t["token"] for t in entry["document"]] == list(expected_doc)  # heaviest first
    assert all(t["present"] == (vocab[t["token"]] in in_text) for t in entry["document"] + entry["query"])
    assert any(not t["present"] for t in entry["document"])  # the untrained model expands
    assert all(t["present"] for t in entry["query"])  # inference-free queries: only the text's tokens

    explained = run_cli("explain", "model", "--query", query, "--doc", text, "--json", cwd=workspace)
    assert explained.returncode == 0, explained.stderr
    report = json.loads(explained.stdout)
    exact = float((encoder.encode_queries([query]) @ encoder.encode_documents([text]).T).toarray()[0, 0])
    assert report["score"] == pytest.approx(exact, rel=1e-5)
    assert sum(m["contribution"] for m in report["matches"]) == pytest.approx(exact, rel=1e-5)
    contributions = [m["contribution"] for m in report["matches"]]
    assert contributions == sorted(contributions, reverse=True) and contributions

    table = run_cli("explain", "model", "--query", query, "--doc", text, cwd=workspace)
    assert table.returncode == 0 and "expansion" in table.stdout and "present" in table.stdout
