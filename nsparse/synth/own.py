"""A team's own documents (`synthesize.own_corpus`): synthetic training queries and an honest benchmark.

The corpus is a JSON Lines file of `{_id, title, text}` or a BEIR folder. Its documents
join the sampled corpora of `synthesize`, so v2 trains on queries for them through the
mix stage. What it is scored on is written to `data/own` (a BEIR folder that deploy
indexes and benchmark scores):

* a BEIR folder with judged queries (`qrels/<own_split>.tsv`): those queries, labelled judged;
* otherwise a held-out share of the sampled documents: their synthetic queries are kept
  out of training and become the queries, labelled synthetic. Inverse-cloze queries are
  left out of that benchmark when another method produced queries, since each is a
  sentence of a document the index still holds.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nsparse.data import DataFormatError, load_benchmark, read_corpus, write_benchmark
from nsparse.data.format import Corpus, Qrels, Queries
from nsparse.data.own import ABOUT, OWN, SPLIT
from nsparse.faults import UserFault
from nsparse.io import write_json
from nsparse.llm import Generator
from nsparse.synth import sample_documents, synthesize_with_sources


class OwnCorpusError(UserFault, ValueError):
    """`synthesize.own_corpus` names nothing usable; the stage prints the message as one line."""


@dataclass(frozen=True)
class OwnCorpus:
    source: str
    corpus: Corpus
    queries: Queries | None = None  # judged queries, when the source is a BEIR folder with the split
    qrels: Qrels | None = None
    split: str | None = None


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
    return OwnCorpus(str(source), corpus)


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


def own_corpora(settings: Mapping[str, Any]) -> OwnCorpus | None:
    """The own corpus named by the `synthesize` params, or None (the default: nothing changes)."""
    source = settings.get("own_corpus")
    return read_own_corpus(source, settings.get("own_split", SPLIT)) if source else None


def synthesize_corpora(
    corpora: dict[str, Corpus],
    own: OwnCorpus | None,
    settings: Mapping[str, Any],
    generator: Generator | None,
    seed: int,
    cache_dir: Path,
    own_folder: Path,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The synthesize stage: training pairs for the sampled corpora (and the own corpus), the report,
    and `own_folder` written. Without an own corpus the pairs and report are exactly `synthesize`'s."""
    if own is not None:
        corpora = {**corpora, OWN: own.corpus}
    documents = sample_documents(corpora, settings["documents_per_corpus"], seed)
    heldout = set() if own is None or own.qrels else heldout_keys(list(documents), settings["own_heldout_share"], seed)
    pairs, doc_keys, report = synthesize_with_sources(documents, settings, generator, seed, cache_dir)
    training, held = split_pairs(pairs, doc_keys, heldout)
    about = write_own_benchmark(own_folder, own, held, len(heldout))
    if own is not None:
        own_pairs = sum(key.startswith(f"{OWN}/") for key in doc_keys)
        report["own_corpus"] = {**about, "training_pairs": own_pairs - len(held), "heldout_pairs": len(held)}
    return training, report
