import random
from pathlib import Path

import pytest

from nsparse.config import load_params
from nsparse.data.sources import KorquadQuestion, MsmarcoRecord, text_id
from nsparse.pipeline.prepare import (
    BenchmarkData,
    build_prepared_data,
    codeswitch_benchmark,
    korquad_benchmark,
    msmarco_corpus,
    msmarco_passage_id,
    split_dictionary,
    split_msmarco,
    training_pairs,
)

TOPICS = ["학교", "병원", "도서관", "공원", "시장", "은행", "공항", "박물관", "경찰서", "우체국", "식당", "극장"]


def _record(index, shared_passage=None):
    topic = TOPICS[index % len(TOPICS)]
    passage = shared_passage or f"{topic} {index}번 안내: {topic}에서 일하는 사람과 시설 정보입니다."
    return MsmarcoRecord(
        record_id=str(index),
        query_ko=f"{topic} {index}번 정보",
        query_en=f"{index} information",
        positives_ko=(passage,),
        positives_en=(f"guide {index}",),
    )


RECORDS = [_record(index) for index in range(24)]
QUESTIONS = [
    KorquadQuestion(
        f"q{article}-{n}",
        f"{TOPICS[article]}의 {n}번째 질문은?",
        f"article{article}",
        f"{TOPICS[article]} 문단 {n % 2}",
    )
    for article in range(6)
    for n in range(4)
]


def test_split_msmarco_holds_out_records_and_drops_training_ones_sharing_their_passages():
    twins = [_record(100 + index, shared_passage=record.positives_ko[0]) for index, record in enumerate(RECORDS)]
    records = RECORDS + twins
    split = split_msmarco(records, 5, 3, random.Random(1))
    assert (len(split.test), len(split.dev)) == (5, 3)
    held_passages = {text for record in split.test + split.dev for text in record.positives_ko}
    assert all(held_passages.isdisjoint(record.positives_ko) for record in split.training)
    assert len(split.training) < len(records) - 8  # 8 held-out records have at most 4 twins among themselves
    assert split_msmarco(records, 5, 3, random.Random(1)) == split
    assert split_msmarco(records, 5, 0, random.Random(1)).test == split.test  # a dev split leaves test as it was
    with pytest.raises(ValueError, match="leaves no msmarco record"):
        split_msmarco(records, len(records) - 2, 2, random.Random(1))


def test_korquad_benchmark_splits_by_article_merges_repeated_paragraphs_and_adds_distractors():
    distractors = {"lo-1": {"title": "", "text": "도움말"}, "lo-2": {"title": "", "text": "셀 서식"}}
    benchmark = korquad_benchmark(
        QUESTIONS, distractors, dev_questions=8, test_max_questions=10, min_corpus_docs=14, rng=random.Random(3)
    )
    dev, test = benchmark.qrels["dev"], benchmark.qrels["test"]
    assert len(dev) == 8 and len(test) == 10
    article_of = {f"kq-{q.question_id}": q.title for q in QUESTIONS}
    assert {article_of[q] for q in dev}.isdisjoint(article_of[q] for q in test)
    assert len(benchmark.corpus) == 6 * 2 + 2  # two distinct paragraphs per article, plus distractors
    paragraph_of = {f"kq-{q.question_id}": text_id("kq", q.context) for q in QUESTIONS}
    assert {**dev, **test} == {query_id: {paragraph_of[query_id]: 1} for query_id in {**dev, **test}}
    assert set(benchmark.queries) == set(dev) | set(test)
    with pytest.raises(ValueError, match="fewer than min_corpus_docs=100"):
        korquad_benchmark(QUESTIONS, distractors, 8, 10, 100, random.Random(3))


def test_split_dictionary_shares_no_headword_and_keeps_only_korean_to_english():
    pairs = [
        ("학교", "school"),
        ("학교", "academy"),
        ("사람", "person"),
        ("병원", "hospital"),
        ("the", "the"),
        ("책", "책"),
    ]
    seed, codeswitch = split_dictionary(pairs, 0.5, random.Random(0))
    assert {ko for ko, _ in seed}.isdisjoint(ko for ko, _ in codeswitch)
    assert sorted(seed + codeswitch) == sorted(pairs[:4])
    assert len({ko for ko, _ in codeswitch}) == 2  # half of the three headwords, rounded


def test_codeswitch_benchmark_keeps_only_switched_queries_with_their_judgments():
    source = BenchmarkData(
        corpus={"d1": {"title": "", "text": "학교"}, "d2": {"title": "", "text": "병원"}},
        queries={"a": "학교에서 공부", "b": "병원 위치", "c": "아무 관계 없음"},
        qrels={"test": {"a": {"d1": 1}, "b": {"d2": 1}, "c": {"d1": 1}}},
    )
    benchmark = codeswitch_benchmark(
        [source], {"학교": ["school"], "병원": ["hospital"]}, rate=1.0, rng=random.Random(0)
    )
    assert benchmark.queries == {"cs-a": "school에서 공부", "cs-b": "hospital 위치"}
    assert benchmark.qrels == {"test": {"cs-a": {"d1": 1}, "cs-b": {"d2": 1}}}
    assert benchmark.corpus == source.corpus


def test_training_pairs_mine_bm25_negatives_without_positives_for_both_languages():
    corpus = msmarco_corpus(RECORDS)
    pairs = training_pairs(RECORDS[:6], corpus, negatives=3, mining_depth=10, k1=0.9, b=0.4, rng=random.Random(0))
    assert len(pairs) == 12
    assert [pair["source"] for pair in pairs[:2]] == ["msmarco-ko", "msmarco-en"]
    for pair in pairs:
        assert pair["positive"] not in pair["negatives"]
        assert len(pair["negatives"]) == 3
        assert all(msmarco_passage_id(text) in corpus for text in pair["negatives"])
    # "학교 0번 정보" shares 학교 with records 12 (same topic): BM25 ranks that passage among the negatives.
    assert RECORDS[12].positives_ko[0] in pairs[0]["negatives"]


def test_build_prepared_data_is_deterministic_and_keeps_heldout_queries_out_of_training():
    parallel = [
        {
            "id": f"p{i}",
            "ko": f"도움말 문단 {i}번은 충분히 긴 한국어 설명을 담고 있습니다.",
            "en": f"Help paragraph {i}",
        }
        for i in range(10)
    ]
    sources = {
        "korquad": QUESTIONS,
        "msmarco": RECORDS,
        "muse_train": [("학교", "school"), ("병원", "hospital"), ("정보", "information"), ("질문", "question")],
        "muse_test": [("시장", "market")],
    }
    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    settings = params.prepare.merged(
        {
            "msmarco": {"heldout_queries": 6, "dev_queries": 2},
            "korquad": {"dev_questions": 8, "test_max_questions": 12, "min_corpus_docs": 30},
            "distractors": {"libreoffice": 5, "min_chars": 10},
            "codeswitch": {"dictionary_fraction": 0.5, "rate": 1.0},
            "pairs": {"negatives": 2, "mining_depth": 5},
        }
    )
    bm25 = params.bm25.merged({"k1": 0.9, "b": 0.4})
    prepared = build_prepared_data(sources, parallel, settings, bm25, seed=5)
    assert prepared == build_prepared_data(sources, parallel, settings, bm25, seed=5)
    assert set(prepared.benchmarks) == {"korquad", "msmarco-ko", "msmarco-en2ko", "codeswitch"}
    heldout_queries = set(prepared.benchmarks["msmarco-ko"].queries.values()) | set(
        prepared.benchmarks["msmarco-en2ko"].queries.values()
    )
    assert heldout_queries.isdisjoint(pair["query"] for pair in prepared.pairs)
    assert len(prepared.pairs) == 2 * (len(RECORDS) - 6 - 2)
    assert len(prepared.benchmarks["msmarco-ko"].qrels["dev"]) == 2
    assert prepared.benchmarks["codeswitch"].queries and all(
        any(word in text for word in ("school", "hospital", "information", "question"))
        for text in prepared.benchmarks["codeswitch"].queries.values()
    )
    codeswitch_words = {ko for ko, _ in prepared.dictionaries["codeswitch"]}
    assert codeswitch_words.isdisjoint(ko for ko, _ in prepared.dictionaries["seed"])
    all_queries = {text for data in prepared.benchmarks.values() for text in data.queries.values()}
    assert all_queries.isdisjoint(prepared.pretrain_lines)
    assert prepared.stats["benchmarks"]["korquad"] == {"corpus": 12 + 24 + 5, "queries_dev": 8, "queries_test": 12}
