import pytest

from helpers import PARAMS
from nsparse.data import Benchmark
from nsparse.eval.baselines import corpus_fingerprint, score_systems
from nsparse.eval.bm25 import BM25Kiwi
from nsparse.model.vocabulary import save_stop_pieces, train_tokenizer
from nsparse.opensearch.index import BM25Similarity
from nsparse.pipeline import baselines
from nsparse.pipeline.baselines import bm25_system, make_systems

BM25 = PARAMS.bm25  # the pipeline's one BM25
CORPUS = {
    "d1": {"title": "", "text": "학교에서 공부하는 학생"},
    "d2": {"title": "", "text": "병원에서 일하는 의사"},
    "d3": {"title": "", "text": "공원에서 산책하는 사람"},
}
BENCHMARK = Benchmark(
    corpus=CORPUS, queries={"q1": "학교 학생", "q2": "의사"}, qrels={"q1": {"d1": 1}, "q2": {"d3": 1}}
)


def test_score_systems_reports_every_metric_per_benchmark_and_system():
    table = score_systems({"toy": BENCHMARK}, {"bm25_kiwi": bm25_system(BM25.k1, BM25.b)}, depth=100)
    # q1 finds its document first; q2 finds only d2 (not its judged d3).
    assert table == {"toy": {"bm25_kiwi": {"ndcg@10": 0.5, "mrr@10": 0.5, "recall@100": 0.5}}}


def test_in_process_bm25_indexes_each_corpus_once_and_scores_as_bm25kiwi(monkeypatch):
    built: list[int] = []

    class Counting(BM25Kiwi):
        def __init__(self, corpus, **options) -> None:
            built.append(len(corpus))
            super().__init__(corpus, **options)

    monkeypatch.setattr(baselines, "BM25Kiwi", Counting)
    system = bm25_system(BM25.k1, BM25.b)
    shared = Benchmark(corpus=dict(CORPUS), queries={"q3": "공원"}, qrels={"q3": {"d3": 1}})
    runs = [system("toy", BENCHMARK, 10), system("shared", shared, 10)]
    assert built == [len(CORPUS)]  # one index for the two benchmarks over the same documents
    assert runs == [BM25Kiwi(CORPUS, BM25.k1, BM25.b).search(bench.queries, 10) for bench in (BENCHMARK, shared)]


def test_corpus_fingerprint_depends_on_texts_not_only_ids():
    changed = {**CORPUS, "d3": {"title": "", "text": "다른 문서"}}
    assert corpus_fingerprint(CORPUS) == corpus_fingerprint(dict(CORPUS))
    assert corpus_fingerprint(CORPUS) != corpus_fingerprint(changed)


def test_make_systems_builds_the_configured_systems_and_rejects_unknown_names(opensearch, tmp_path):
    tokenizer, stops = train_tokenizer([document["text"] for document in CORPUS.values()] * 3, 300, 1)
    tokenizer.save_pretrained(tmp_path)
    save_stop_pieces(tmp_path, stops)
    systems, bm25 = list(PARAMS.baselines.systems), PARAMS.bm25
    tuned = BM25Similarity(k1=1.2, b=0.75)
    assert set(make_systems(systems, bm25, str(tmp_path), "nsparse-test", tuned)) == set(systems)  # no trained base
    with pytest.raises(KeyError, match="unknown systems \\['nope'\\]"):
        make_systems(["nope"], bm25, str(tmp_path), "nsparse-test", tuned)
