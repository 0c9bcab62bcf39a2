"""From params.yaml's typed sections to the objects a run needs (the `train` stage and scripts/ablation.py)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import torch
from dvclive import Live

from nsparse.data import load_benchmark
from nsparse.data.format import read_corpus, read_parallel, read_verified_dictionary
from nsparse.dictionary import read_dictionary
from nsparse.eval.bm25 import document_text
from nsparse.io import atomic_open, read_json
from nsparse.model.base import seed_everything
from nsparse.model.encoder import SparseEncoder, compute_idf
from nsparse.model.translation import (
    learn_expansion_table,
    learn_translation_table,
    merged_table,
    table_quality,
)
from nsparse.params import Bm25Params, Params, Train
from nsparse.train.teachers import BM25Teacher, EncoderTeacher, Teacher, attach_teacher_scores
from nsparse.train.validation import ValidationSet, capped_validation_set, validate


class PreparedRun(NamedTuple):
    """What a `Trainer` of one variant needs besides its settings."""

    encoder: SparseEncoder  # the base model with its lexical layer fitted
    fitted: dict[str, Any]  # figures about that layer (table sizes, held-out quality, the expansion's dev scores)
    validation: dict[str, ValidationSet]  # the dev sets the best checkpoint is chosen on
    pairs: list[dict]  # the training pairs, with the teacher's scores when distilling
    fingerprint: str  # everything that decides the run (`fingerprint`)


def prepare_run(params: Params, variant: str, train: Train, pairs: list[dict]) -> PreparedRun:
    """Seed, cap the validation sets, build the encoder and (distilling) score the pairs: `train <variant>`'s set-up.

    `train` is the variant's `train:` section (`params.variant_train(variant)`), or a variation of it.
    """
    seed_everything(params.seed)
    paths, checks = params.paths, train.validation
    base = read_json(Path(paths.base) / "source.json")["model"]
    benchmarks = Path(paths.benchmarks)
    validation = {
        name: capped_validation_set(
            load_benchmark(benchmarks / name, checks.split), checks.max_docs, checks.max_queries, params.seed
        )
        for name in checks.benchmarks
    }
    encoder, fitted = build_encoder(
        base,
        train,
        params.bm25,
        pairs,
        params.variants[variant].parallel,
        [benchmarks / name for name in train.lexical.idf_corpora],
        Path(paths.dictionaries) / "heldout.tsv",  # the MUSE test split: the table's held-out quality
        validation,  # the expansion's weight is chosen on it
    )
    digest = fingerprint(
        base,
        train.model_dump(),
        params.bm25.model_dump(),
        params.variants[variant].model_dump(exclude_unset=True),  # as params.yaml states it
        params.seed,
        len(pairs),
    )
    if train.distillation.method:
        pairs = attach_teacher_scores(pairs, build_teacher(train.distillation.teacher, params.bm25))
    return PreparedRun(encoder, fitted, validation, pairs, digest)


def read_parallel_texts(paths: list[str]) -> list[tuple[str, str]]:
    """(Korean, English) pairs from parallel JSONL files and dictionaries (`ko<TAB>en`, or verified synonyms)."""
    pairs: list[tuple[str, str]] = []
    for path in paths:
        if path.endswith(".jsonl"):
            pairs.extend(read_parallel(path))
            continue
        with open(path, encoding="utf-8") as handle:
            columns = handle.readline().count("\t") + 1
        dictionary = read_verified_dictionary(path) if columns == 4 else read_dictionary(path)
        pairs.extend((korean, english) for korean, translations in dictionary.items() for english in translations)
    return pairs


def corpus_documents(folders: list[Path]) -> list[str]:
    """The distinct documents (title and text) of benchmark corpora, in id order: BM25's collection statistics."""
    documents: dict[str, str] = {}
    for folder in folders:
        for doc_id, document in read_corpus(Path(folder) / "corpus.jsonl").items():
            documents[doc_id] = document_text(document)
    return [documents[doc_id] for doc_id in sorted(documents)]


def build_encoder(
    base: str,
    train: Train,
    bm25: Bm25Params,
    pairs: list[dict],
    parallel: list[str],
    corpora: list[Path],
    heldout_dictionary: Path | None = None,
    validation: dict[str, ValidationSet] | None = None,
) -> tuple[SparseEncoder, dict[str, Any]]:
    """The base masked LM as a sparse encoder: lexical floor (the pipeline's `bm25`), translation table,
    document expansion learned from `pairs`, and IDF from the documents of `corpora` (benchmark folders).

    Without the floor (bi-encoder, hub models) the IDF comes from the training documents, as before.
    Returns the encoder and figures about what was fitted (table sizes, held-out quality, the expansion's
    dev scores).
    """
    encoder = SparseEncoder.load(base, **train.encoder.model_dump(), **bm25.model_dump())  # its nsparse.json
    if not encoder.settings.lexical_floor:
        documents = {text for pair in pairs for text in (pair["positive"], *pair["negatives"])}
        encoder.set_idf(compute_idf(encoder.tokenizer, sorted(documents), encoder.settings.max_length))
        return encoder, {}
    figures: dict[str, Any] = {}
    silent = set(torch.nonzero(encoder.silent_tokens).flatten().tolist())
    translations: dict[str, list[tuple[str, float]]] = {}
    if parallel:
        translations = learn_translation_table(
            encoder.tokenizer,
            read_parallel_texts(parallel),
            silent,
            train.lexical.translation,
        )
        figures["translation"] = {"sources": len(translations), "entries": sum(map(len, translations.values()))}
        if heldout_dictionary:
            held = read_dictionary(heldout_dictionary)
            figures["translation"]["heldout"] = table_quality(
                translations,
                [(korean, english) for korean, words in held.items() for english in words],
                encoder.tokenizer,
            )
    documents = corpus_documents(corpora)
    expansion = train.lexical.expansion
    scales = sorted(set(expansion.scales))
    if len(scales) > 1 and validation is None:
        raise ValueError("train.lexical.expansion.scales: several weights need validation sets to choose among them")
    expansions = {}
    if any(scales):
        expansions = learn_expansion_table(
            encoder.tokenizer,
            [(pair["query"], pair["positive"]) for pair in pairs],
            silent,
            expansion,
        )
    figures["expansion"] = {"sources": len(expansions), "entries": sum(map(len, expansions.values())), "dev": {}}
    choosing = len(scales) > 1 and bool(expansions)
    best: tuple[float, float] | None = None
    for scale in scales if expansions else [0.0]:
        encoder.set_translations(merged_table(translations, expansions, scale))
        encoder.fit_lexical_statistics(documents)
        score = validate(encoder, validation)["ndcg@10"] if choosing and validation is not None else 0.0
        figures["expansion"]["dev"][str(scale)] = round(score, 6)
        if best is None or score > best[1]:  # ties keep the smaller weight
            best = (scale, score)
    assert best is not None
    figures["expansion"]["scale"] = best[0]
    encoder.set_translations(merged_table(translations, expansions, best[0]))
    figures["corpus"] = encoder.fit_lexical_statistics(documents)
    return encoder, figures


def build_teacher(teacher: str, bm25: Bm25Params) -> Teacher:
    """`bm25` (kiwi BM25 with the pipeline's parameters), or a previous nsparse model (its path or hub id)."""
    if teacher == "bm25":
        return BM25Teacher(bm25)
    return EncoderTeacher(SparseEncoder.load(teacher))


def fingerprint(*parts: Any) -> str:
    """A digest of everything that decides a run, so a stale checkpoint is never resumed."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class LiveLogger:
    """Trainer logger on dvclive: each metric at its step (plots/) and a refreshed metrics.json."""

    def __init__(self, live: Live) -> None:
        self.live = live

    def __call__(self, metrics: dict[str, float], step: int) -> None:
        self.live.step = step
        for name, value in metrics.items():
            self.live.log_metric(name, value)
        self.live.make_summary()

    def record(self, name: str, figures: dict[str, Any]) -> None:
        """Keep figures about the run's set-up (e.g. the fitted lexical layer) in metrics.json."""
        self.live.summary[name] = figures
        self.live.make_summary()

    def summarize(self, summary: dict[str, Any]) -> None:
        """Add the run's best validation figures to metrics.json."""
        self.live.summary["best"] = summary["best"] or {}
        self.live.make_summary()


def truncate_live_history(live_dir: Path, step: int) -> int:
    """Drop dvclive plot rows logged after `step` by a run that was killed later; return how many."""
    dropped = 0
    for table in sorted((live_dir / "plots" / "metrics").rglob("*.tsv")):
        lines = table.read_text(encoding="utf-8").splitlines(keepends=True)
        if not lines:
            continue
        column = lines[0].rstrip("\n").split("\t").index("step")
        kept = [lines[0]] + [line for line in lines[1:] if int(line.split("\t")[column]) <= step]
        dropped += len(lines) - len(kept)
        with atomic_open(table) as handle:
            handle.writelines(kept)
    return dropped


@contextlib.contextmanager
def live_logger(live_dir: Path, resume: bool) -> Iterator[LiveLogger]:
    """dvclive in `live_dir`, continuing its history when the run resumes."""
    with Live(str(live_dir), resume=resume, save_dvc_exp=False, dvcyaml=None) as live:
        yield LiveLogger(live)
