"""The `prepare` library: benchmarks, dictionaries, training pairs and pre-training text from the raw sources.

Everything here is a pure function of the sources and a seed, so `prepare` rebuilds the
same files on every machine. Held-out queries (msmarco test, KorQuAD) never reach the
training pairs; the code-switch dictionary part never reaches the seed dictionary.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from nsparse.codeswitch import code_switch, korean_to_english
from nsparse.data.format import Corpus, Qrels, Queries
from nsparse.data.sources import KorquadQuestion, MsmarcoRecord, text_id
from nsparse.dictionary import group_translations
from nsparse.eval.bm25 import BM25Kiwi
from nsparse.params import Bm25Params, Prepare


@dataclass
class BenchmarkData:
    """A benchmark in memory: what `write_benchmark` puts on disk."""

    corpus: Corpus
    queries: Queries
    qrels: dict[str, Qrels]  # split -> judgments


@dataclass
class PreparedData:
    """Every product of the `prepare` stage."""

    benchmarks: dict[str, BenchmarkData]
    dictionaries: dict[str, list[tuple[str, str]]]  # "seed" / "heldout" / "codeswitch" -> (ko, en) rows
    pairs: list[dict[str, Any]]
    parallel: list[dict[str, str]]  # LibreOffice help paragraphs
    parallel_msmarco: list[dict[str, str]]  # training records' queries and passages (held-out ids excluded)
    pretrain_lines: list[str]
    stats: dict[str, Any] = field(default_factory=dict)


def msmarco_passage_id(text: str) -> str:
    return text_id("msm", text)


def msmarco_corpus(records: Iterable[MsmarcoRecord]) -> Corpus:
    """All Korean msmarco passages, one document per distinct text."""
    return {msmarco_passage_id(text): {"title": "", "text": text} for record in records for text in record.positives_ko}


@dataclass(frozen=True)
class MsmarcoSplit:
    """msmarco records by use: test (scored once, at the end), dev (model selection) and training."""

    test: list[MsmarcoRecord]
    dev: list[MsmarcoRecord]
    training: list[MsmarcoRecord]


def split_msmarco(
    records: Sequence[MsmarcoRecord], heldout_queries: int, dev_queries: int, rng: random.Random
) -> MsmarcoSplit:
    """Test and dev records held out; training drops every record sharing a positive passage with one of them.

    Test takes the first `heldout_queries` of one seeded shuffle and dev the next
    `dev_queries`, so adding a dev split leaves the test split as it was.
    """
    held = heldout_queries + dev_queries
    if held >= len(records):
        raise ValueError(
            f"heldout_queries + dev_queries = {held} leaves no msmarco record for training ({len(records)} in all)"
        )
    shuffled = list(records)
    rng.shuffle(shuffled)
    test, dev = shuffled[:heldout_queries], shuffled[heldout_queries:held]
    held_passages = {text for record in test + dev for text in record.positives_ko}
    training = [record for record in shuffled[held:] if held_passages.isdisjoint(record.positives_ko)]
    return MsmarcoSplit(test, dev, training)


def msmarco_benchmarks(split: MsmarcoSplit, corpus: Corpus) -> dict[str, BenchmarkData]:
    """`msmarco-ko` (Korean queries) and `msmarco-en2ko` (the same queries in English), Korean passages."""

    def qrels(records: Sequence[MsmarcoRecord]) -> Qrels:
        return {f"msm-q{r.record_id}": {msmarco_passage_id(text): 1 for text in r.positives_ko} for r in records}

    splits = {"test": qrels(split.test), **({"dev": qrels(split.dev)} if split.dev else {})}
    held = split.test + split.dev
    return {
        "msmarco-ko": BenchmarkData(corpus, {f"msm-q{r.record_id}": r.query_ko for r in held}, splits),
        "msmarco-en2ko": BenchmarkData(corpus, {f"msm-q{r.record_id}": r.query_en for r in held}, splits),
    }


def korquad_benchmark(
    questions: Sequence[KorquadQuestion],
    distractors: Corpus,
    dev_questions: int,
    test_max_questions: int,
    min_corpus_docs: int,
    rng: random.Random,
) -> BenchmarkData:
    """KorQuAD questions -> their paragraph, split by article into dev and test, corpus padded with distractors.

    Articles are shuffled and given to dev until it holds `dev_questions`; the rest form
    test, sampled down to `test_max_questions`. Paragraphs are keyed by their text because
    a few repeat across the dataset.
    """
    by_article: dict[str, list[KorquadQuestion]] = defaultdict(list)
    for question in questions:
        by_article[question.title].append(question)
    articles = sorted(by_article)
    rng.shuffle(articles)
    dev: list[KorquadQuestion] = []
    test: list[KorquadQuestion] = []
    for article in articles:
        (dev if len(dev) < dev_questions else test).extend(by_article[article])
    if not test:
        raise ValueError(f"dev_questions={dev_questions} leaves no KorQuAD article for test")
    if len(test) > test_max_questions:
        test = rng.sample(test, test_max_questions)

    corpus: Corpus = {text_id("kq", q.context): {"title": q.title, "text": q.context} for q in questions}
    corpus.update(distractors)
    if len(corpus) < min_corpus_docs:
        raise ValueError(f"korquad corpus holds {len(corpus)} documents, fewer than min_corpus_docs={min_corpus_docs}")
    queries = {f"kq-{q.question_id}": q.question for q in dev + test}
    splits = {
        name: {f"kq-{q.question_id}": {text_id("kq", q.context): 1} for q in part}
        for name, part in (("dev", dev), ("test", test))
    }
    return BenchmarkData(corpus, queries, splits)


def libreoffice_distractors(
    parallel: Sequence[Mapping[str, str]], count: int, min_chars: int, rng: random.Random
) -> Corpus:
    """`count` Korean help paragraphs of at least `min_chars` characters, as distractor documents."""
    candidates = sorted({row["ko"] for row in parallel if len(row["ko"]) >= min_chars})
    if count > len(candidates):
        raise ValueError(
            f"asked for {count} LibreOffice distractors; only {len(candidates)} paragraphs reach {min_chars} characters"
        )
    return {text_id("lo", text): {"title": "", "text": text} for text in rng.sample(candidates, count)}


def split_dictionary(
    train_pairs: Sequence[tuple[str, str]], codeswitch_fraction: float, rng: random.Random
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(seed, codeswitch) parts of the MUSE train split, split by Korean headword so none is shared."""
    korean_pairs = korean_to_english(train_pairs)
    headwords = sorted({ko for ko, _ in korean_pairs})
    held = set(rng.sample(headwords, round(len(headwords) * codeswitch_fraction)))
    seed = [(ko, en) for ko, en in korean_pairs if ko not in held]
    codeswitch = [(ko, en) for ko, en in korean_pairs if ko in held]
    return seed, codeswitch


def codeswitch_benchmark(
    sources: Sequence[BenchmarkData], dictionary: Mapping[str, Sequence[str]], rate: float, rng: random.Random
) -> BenchmarkData:
    """The test queries of `sources` with nouns switched to English; queries left unchanged are dropped."""
    corpus: Corpus = {}
    queries: Queries = {}
    qrels: Qrels = {}
    for source in sources:
        corpus.update(source.corpus)
        for query_id, judged in tqdm(
            source.qrels["test"].items(), desc="code-switching queries", unit="query", disable=None
        ):
            original = source.queries[query_id]
            switched = code_switch(original, dictionary, rate, rng)
            if switched != original:
                queries[f"cs-{query_id}"] = switched
                qrels[f"cs-{query_id}"] = dict(judged)
    return BenchmarkData(corpus, queries, {"test": qrels})


def training_pairs(
    records: Sequence[MsmarcoRecord],
    corpus: Corpus,
    negatives: int,
    mining_depth: int,
    k1: float,
    b: float,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """One pair per (query, positive) for the Korean query and its English version.

    Hard negatives are drawn at random from the top `mining_depth` BM25 hits of the Korean
    query over the msmarco passages, positives excluded; the English version shares them,
    since BM25 on an English query against Korean passages finds nothing useful.
    """
    retriever = BM25Kiwi(corpus, k1=k1, b=b)
    most_positives = max(len(record.positives_ko) for record in records)
    run = retriever.search({record.record_id: record.query_ko for record in records}, k=mining_depth + most_positives)
    pairs = []
    for record in records:
        positive_ids = {msmarco_passage_id(text) for text in record.positives_ko}
        candidates = [doc_id for doc_id in run.get(record.record_id, {}) if doc_id not in positive_ids][:mining_depth]
        chosen = rng.sample(candidates, min(negatives, len(candidates)))
        negative_texts = [corpus[doc_id]["text"] for doc_id in chosen]
        for positive in record.positives_ko:
            pairs.append(
                {"query": record.query_ko, "positive": positive, "negatives": negative_texts, "source": "msmarco-ko"}
            )
            pairs.append(
                {"query": record.query_en, "positive": positive, "negatives": negative_texts, "source": "msmarco-en"}
            )
    return pairs


def msmarco_parallel(records: Sequence[MsmarcoRecord]) -> list[dict[str, str]]:
    """Korean/English text pairs of the given records: each query, and each passage matched by position.

    Only training records are passed in, so no held-out query or its passages becomes
    parallel text for the translation table.
    """
    rows = []
    for record in records:
        rows.append({"id": f"{record.record_id}:q", "ko": record.query_ko, "en": record.query_en})
        if len(record.positives_ko) == len(record.positives_en):
            rows.extend(
                {"id": f"{record.record_id}:p{index}", "ko": ko, "en": en}
                for index, (ko, en) in enumerate(zip(record.positives_ko, record.positives_en))
            )
    return rows


def pretrain_lines(
    records: Sequence[MsmarcoRecord], parallel: Sequence[Mapping[str, str]], rng: random.Random
) -> list[str]:
    """Distinct Korean and English paragraphs (msmarco passages, help pages), one line each, shuffled.

    Only documents: no benchmark query and no KorQuAD text (its licence forbids derivatives).
    """
    texts = {text for record in records for text in (*record.positives_ko, *record.positives_en)}
    texts.update(row[language] for row in parallel for language in ("ko", "en"))
    lines = sorted({" ".join(text.split()) for text in texts} - {""})
    rng.shuffle(lines)
    return lines


def build_prepared_data(
    sources: Mapping[str, Any],
    parallel: Sequence[Mapping[str, str]],
    settings: Prepare,
    bm25: Bm25Params,
    seed: int,
) -> PreparedData:
    """Build every `prepare` product from the read sources, the `prepare` params and the pipeline's BM25 (mining).

    `sources` holds "korquad" (questions), "msmarco" (records), "muse_train" and
    "muse_test" (pairs). Each part draws from its own seeded generator, so changing one
    setting does not reshuffle the others.
    """

    def rng(part: str) -> random.Random:
        return random.Random(f"{seed}:{part}")

    records: list[MsmarcoRecord] = sources["msmarco"]
    passages = msmarco_corpus(records)
    msmarco = settings.msmarco
    split = split_msmarco(records, msmarco.heldout_queries, msmarco.dev_queries, rng("msmarco"))
    training = split.training
    benchmarks = msmarco_benchmarks(split, passages)

    korquad_settings, distractor_settings = settings.korquad, settings.distractors
    distractors = dict(passages)
    distractors.update(
        libreoffice_distractors(
            parallel, distractor_settings.libreoffice, distractor_settings.min_chars, rng("distractors")
        )
    )
    benchmarks["korquad"] = korquad_benchmark(
        sources["korquad"],
        distractors,
        dev_questions=korquad_settings.dev_questions,
        test_max_questions=korquad_settings.test_max_questions,
        min_corpus_docs=korquad_settings.min_corpus_docs,
        rng=rng("korquad"),
    )

    codeswitch_settings = settings.codeswitch
    seed_pairs, codeswitch_pairs = split_dictionary(
        sources["muse_train"], codeswitch_settings.dictionary_fraction, rng("dictionary")
    )
    benchmarks["codeswitch"] = codeswitch_benchmark(
        [benchmarks["korquad"], benchmarks["msmarco-ko"]],
        group_translations(codeswitch_pairs),
        codeswitch_settings.rate,
        rng("codeswitch"),
    )
    heldout_pairs = korean_to_english(sources["muse_test"])

    lines = pretrain_lines(records, parallel, rng("pretrain"))
    pairs = training_pairs(
        training,
        passages,
        negatives=settings.pairs.negatives,
        mining_depth=settings.pairs.mining_depth,
        k1=bm25.k1,
        b=bm25.b,
        rng=rng("pairs"),
    )
    parallel_msmarco = msmarco_parallel(training)
    stats = {
        "benchmarks": {
            name: {
                "corpus": len(data.corpus),
                **{f"queries_{split}": len(qrels) for split, qrels in data.qrels.items()},
            }
            for name, data in benchmarks.items()
        },
        "msmarco": {
            "records": len(records),
            "heldout": len(split.test),
            "dev": len(split.dev),
            "training": len(training),
        },
        "dictionaries": {"seed": len(seed_pairs), "codeswitch": len(codeswitch_pairs), "heldout": len(heldout_pairs)},
        "pairs": len(pairs),
        "parallel": len(parallel),
        "parallel_msmarco": len(parallel_msmarco),
        "pretrain_lines": len(lines),
    }
    return PreparedData(
        benchmarks=benchmarks,
        dictionaries={"seed": seed_pairs, "codeswitch": codeswitch_pairs, "heldout": heldout_pairs},
        pairs=pairs,
        parallel=list(parallel),
        parallel_msmarco=parallel_msmarco,
        pretrain_lines=lines,
        stats=stats,
    )
