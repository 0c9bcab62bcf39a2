"""The `synthesize` stage's run: sampling, generation or self-supervision, filtering, report, your documents.

It combines concerns `nsparse.synth` keeps apart: with an LLM, queries and paraphrases
from few-shot prompts (`synth.generate`); with the `offline` back end, pseudo-queries
from self-supervised methods (`synth.selfsupervised`). Every candidate goes through the
same filters (`synth.filters`), and the report counts what each rejected, per method.

Your own documents (`synthesize.own_corpus`: JSON Lines of `{_id, title, text}` or a BEIR
folder) join the sampled corpora, so v2 trains on queries for them through the mix
stage. What they are scored on is written to `data/own` (`nsparse.data.own`):

* a BEIR folder with judged queries (`qrels/<own_split>.tsv`): those queries, labelled judged;
* otherwise a held-out share of the sampled documents: their synthetic queries are kept
  out of training and become the queries, labelled synthetic. Inverse-cloze queries are
  left out of that benchmark when another method produced queries, since each is a
  sentence of a document the index still holds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nsparse.data import DataFormatError, load_benchmark, read_corpus, write_benchmark
from nsparse.data.format import Corpus, Qrels, Queries, read_pairs
from nsparse.data.own import ABOUT, OWN, SPLIT
from nsparse.faults import UserFault
from nsparse.io import write_json
from nsparse.llm import Generator, PromptTemplate, offline_provenance
from nsparse.llm.fewshot import FewShotPrompt, benchmark_queries, document_query_prompt, query_shots
from nsparse.params import Bm25Params, Synthesize
from nsparse.synth.filters import FILTERS, Candidate, filter_candidates, hangul_ratio
from nsparse.synth.generate import LLMSynthesis
from nsparse.synth.selfsupervised import ict_candidates, keyword_candidates


def sample_documents(
    corpora: Mapping[str, Mapping[str, Mapping[str, str]]], per_corpus: int, seed: int
) -> dict[str, str]:
    """Up to `per_corpus` distinct documents of each corpus, as {"<corpus>/<doc id>": text}, reproducibly.

    A text already sampled (corpora share passages, e.g. distractors) is skipped: a twin
    would tie with the positive in the round trip and come back as its "negative". Skipped
    twins are made up from the same corpus after every corpus's first draw, so those draws
    (and an LLM cache of their queries) stay as they are.
    """
    rng = random.Random(seed)
    documents: dict[str, str] = {}

    def add(name: str, corpus: Mapping[str, Mapping[str, str]], doc_id: str) -> bool:
        text = corpus[doc_id]["text"]
        if text in documents.values():
            return False
        documents[f"{name}/{doc_id}"] = text
        return True

    first_draws = {}
    for name, corpus in corpora.items():
        first = sorted(rng.sample(sorted(corpus), min(per_corpus, len(corpus))))
        first_draws[name] = (first, sum(add(name, corpus, doc_id) for doc_id in first))
    for name, corpus in corpora.items():
        first, added = first_draws[name]
        rest = sorted(set(corpus) - set(first))
        for doc_id in rng.sample(rest, len(rest)) if added < per_corpus else []:
            added += add(name, corpus, doc_id)
            if added == per_corpus:
                break
    return documents


def base_model_prompt(
    train_pairs: Path, benchmarks: Path, shots: int, seed: int, min_hangul_ratio: float
) -> FewShotPrompt:
    """A base model's few-shot prompt: `shots` training pairs whose query is Korean (the language filter's
    threshold), none a benchmark query."""

    def korean(query: str) -> bool:
        return hangul_ratio(query) >= min_hangul_ratio

    pairs = read_pairs(train_pairs)
    return document_query_prompt(query_shots(pairs, benchmark_queries(benchmarks), shots, seed, keep=korean))


def synthesize(
    documents: Mapping[str, str],
    params: Synthesize,
    bm25: Bm25Params,
    generator: Generator | None,
    seed: int,
    cache_dir: Path,
    fewshot: FewShotPrompt | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Training pairs for `documents` and the report (provenance, counts per filter and method, timings)."""
    pairs, _, report = synthesize_with_sources(documents, params, bm25, generator, seed, cache_dir, fewshot)
    return pairs, report


def synthesize_with_sources(
    documents: Mapping[str, str],
    params: Synthesize,
    bm25: Bm25Params,
    generator: Generator | None,
    seed: int,
    cache_dir: Path,
    fewshot: FewShotPrompt | None = None,
) -> tuple[list[dict[str, Any]], list[str], dict[str, Any]]:
    """`synthesize`, plus each pair's document key: what holding out documents' queries needs."""
    started = time.perf_counter()
    rng = random.Random(seed)
    report: dict[str, Any] = {"documents": len(documents)}
    if generator is None:
        candidates = _offline_candidates(documents, params, rng)
        report["provenance"] = offline_provenance("+".join(params.offline_methods))
    else:
        synthesis = LLMSynthesis(
            generator,
            PromptTemplate.load(params.prompts.queries),
            PromptTemplate.load(params.prompts.paraphrases),
            queries_per_document=params.queries_per_document,
            paraphrases_per_query=params.paraphrases_per_query,
            max_document_chars=params.max_document_chars,
            cache_dir=cache_dir,
            seed=seed,
            fewshot=fewshot,
        )
        candidates, stats = synthesis.candidates(documents)
        prompts = [synthesis.query_prompt.provenance(), synthesis.paraphrase_prompt.provenance()]
        report["provenance"] = {
            **generator.provenance(),
            "prompts": prompts if fewshot is None or generator.chat else [fewshot.provenance()],
        }
        report["cache"] = {"hits": stats.cache_hits, "generated": stats.generated, "run_key": synthesis.run_key()}
        report["malformed"] = stats.malformed
    generated = time.perf_counter()
    outcome = filter_candidates(candidates, params.filters, bm25)
    report["methods"] = outcome.counts
    report["candidates"] = len(candidates)
    report["kept"] = len(outcome.pairs)
    report["rejected"] = {name: sum(counts["rejected"][name] for counts in outcome.counts.values()) for name in FILTERS}
    report["examples"] = outcome.examples
    report["timings_s"] = {
        "generation": round(generated - started, 2),
        "filtering": round(time.perf_counter() - generated, 2),
    }
    if generator is not None:
        minutes = (generated - started) / 60
        report["timings_s"]["documents_generated_per_minute"] = stats.generated / minutes if minutes > 0 else None
        report["timings_s"]["llm"] = generator.throughput()
    return outcome.pairs, outcome.doc_keys, report


def _offline_candidates(documents: Mapping[str, str], params: Synthesize, rng: random.Random) -> list[Candidate]:
    per_document = params.queries_per_document
    candidates: list[Candidate] = []
    if "ict" in params.offline_methods:
        candidates += ict_candidates(documents, per_document, rng)
    if "keywords" in params.offline_methods:
        low, high = params.keyword_terms
        candidates += keyword_candidates(documents, per_document, (low, high), rng)
    return candidates


class OwnCorpusError(UserFault, ValueError):
    """`synthesize.own_corpus` names nothing usable; the stage prints the message as one line."""


@dataclass(frozen=True)
class OwnCorpus:
    source: str
    corpus: Corpus
    queries: Queries | None  # judged queries, when the source is a BEIR folder with the split
    qrels: Qrels | None
    split: str | None


def read_own_corpus(source: str | Path, split: str) -> OwnCorpus:
    """The user's documents and, for a BEIR folder with `qrels/<split>.tsv`, its judged queries."""
    path = Path(source)
    if path.is_dir():
        if (path / "qrels" / f"{split}.tsv").is_file():
            bench = load_benchmark(path, split)
            return OwnCorpus(str(source), bench.corpus, bench.queries, bench.qrels, split)
        if not (path / "corpus.jsonl").is_file():
            raise OwnCorpusError(f"synthesize.own_corpus {source}: a folder needs corpus.jsonl (BEIR layout)")
        path = path / "corpus.jsonl"
    elif not path.is_file():
        raise OwnCorpusError(f"synthesize.own_corpus {source}: no such file or folder")
    corpus = read_corpus(path)
    if not corpus:
        raise DataFormatError(path, 1, "synthesize.own_corpus holds no document")
    return OwnCorpus(str(source), corpus, queries=None, qrels=None, split=None)


def heldout_keys(document_keys: Sequence[str], share: float, seed: int) -> set[str]:
    """A seeded `share` of the own corpus' sampled documents (at least one) whose queries are held out."""
    own = sorted(key for key in document_keys if key.startswith(f"{OWN}/"))
    if not own or share <= 0:
        return set()
    count = min(len(own) - 1, max(1, round(share * len(own)))) if len(own) > 1 else 0
    return set(random.Random(seed).sample(own, count))


def split_pairs(
    pairs: Sequence[dict[str, Any]], doc_keys: Sequence[str], heldout: set[str]
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """(training pairs, held-out (document key, pair)): no held-out document's query is trained on."""
    training, held = [], []
    for pair, key in zip(pairs, doc_keys, strict=True):
        if key in heldout:
            held.append((key, pair))
        else:
            training.append(pair)
    return training, held


def synthetic_queries(held: Sequence[tuple[str, dict[str, Any]]]) -> tuple[Queries, Qrels, list[str]]:
    """Queries and judgments (the query's own document, relevance 1) from held-out pairs, and the methods used."""
    methods = sorted({pair["source"] for _, pair in held})
    if len(methods) > 1 and "synthetic:ict" in methods:
        methods.remove("synthetic:ict")
    queries: Queries = {}
    qrels: Qrels = {}
    for key, pair in held:
        if pair["source"] in methods:
            query_id = f"syn{len(queries)}"
            queries[query_id] = pair["query"]
            qrels[query_id] = {key.split("/", 1)[1]: 1}
    return queries, qrels, methods


def write_own_benchmark(
    folder: Path, own: OwnCorpus | None, held: Sequence[tuple[str, dict[str, Any]]] = (), heldout_documents: int = 0
) -> dict[str, Any]:
    """Write `folder` (BEIR layout + about.json) and return about.json's content; only about.json without a corpus."""
    if own is None:
        about: dict[str, Any] = {"name": None}
        write_json(folder / ABOUT, about)
        return about
    if own.qrels:
        queries, qrels = own.queries or {}, own.qrels
        about = {
            "name": OWN,
            "queries": "judged",
            "split": own.split,
            "label": f"your judged queries ({own.source}, split {own.split})",
        }
    else:
        queries, qrels, methods = synthetic_queries(held)
        if not qrels:
            raise OwnCorpusError(
                f"synthesize.own_corpus {own.source}: no synthetic query of the {heldout_documents} held-out "
                "documents passed the filters; raise synthesize.own_heldout_share or documents_per_corpus"
            )
        names = ", ".join(method.split(":", 1)[1] for method in methods)
        about = {
            "name": f"{OWN}-synthetic",
            "queries": "synthetic",
            "methods": methods,
            "heldout_documents": heldout_documents,
            "label": f"synthetic queries ({names}) of {heldout_documents} held-out documents of {own.source}, "
            "never trained on; not judged by people",
        }
    write_benchmark(folder, own.corpus, queries, {SPLIT: qrels})
    about.update(source=own.source, documents=len(own.corpus), query_count=len(queries))
    write_json(folder / ABOUT, about)
    return about


def own_corpora(settings: Synthesize) -> OwnCorpus | None:
    """The own corpus named by the `synthesize` params, or None (the default: nothing changes)."""
    return read_own_corpus(settings.own_corpus, settings.own_split) if settings.own_corpus is not None else None


def synthesize_corpora(
    corpora: dict[str, Corpus],
    own: OwnCorpus | None,
    settings: Synthesize,
    bm25: Bm25Params,
    generator: Generator | None,
    seed: int,
    cache_dir: Path,
    own_folder: Path,
    fewshot: FewShotPrompt | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The synthesize stage: training pairs for the sampled corpora (and the own corpus), the report,
    and `own_folder` written. Without an own corpus the pairs and report are exactly `synthesize`'s."""
    if own is not None:
        corpora = {**corpora, OWN: own.corpus}
    documents = sample_documents(corpora, settings.documents_per_corpus, seed)
    heldout = set() if own is None or own.qrels else heldout_keys(list(documents), settings.own_heldout_share, seed)
    pairs, doc_keys, report = synthesize_with_sources(documents, settings, bm25, generator, seed, cache_dir, fewshot)
    training, held = split_pairs(pairs, doc_keys, heldout)
    about = write_own_benchmark(own_folder, own, held, len(heldout))
    if own is not None:
        own_pairs = sum(key.startswith(f"{OWN}/") for key in doc_keys)
        report["own_corpus"] = {**about, "training_pairs": own_pairs - len(held), "heldout_pairs": len(held)}
    return training, report
