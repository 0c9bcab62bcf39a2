"""Stage `synthesize`: synthetic query-document training pairs for the target corpora.

Documents only (never benchmark queries) are sampled from each corpus in
`synthesize.corpora`; queries come from the LLM chosen in `llm`, or from the offline
self-supervised methods. Writes data/synth/pairs.jsonl and reports/synthesis.json;
LLM replies are cached per document under data/synth/cache (resume).
"""

from __future__ import annotations

from pathlib import Path

from nsparse.config import load_params
from nsparse.data import read_corpus, write_pairs
from nsparse.io import write_json
from nsparse.llm import make_generator
from nsparse.synth import sample_documents, synthesize

BENCHMARKS = Path("data/benchmarks")
PAIRS = Path("data/synth/pairs.jsonl")
CACHE = Path("data/synth/cache")
REPORT = Path("reports/synthesis.json")


def main() -> None:
    params = load_params()
    settings, seed = params["synthesize"], params["seed"]
    corpora = {name: read_corpus(BENCHMARKS / name / "corpus.jsonl") for name in settings["corpora"]}
    documents = sample_documents(corpora, settings["documents_per_corpus"], seed)
    CACHE.mkdir(parents=True, exist_ok=True)  # a DVC output even when the offline back end caches nothing
    pairs, report = synthesize(documents, settings, make_generator(params["llm"], seed=seed), seed, CACHE)
    write_pairs(PAIRS, pairs)
    write_json(REPORT, report)


if __name__ == "__main__":
    main()
