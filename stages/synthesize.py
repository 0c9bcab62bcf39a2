"""Stage `synthesize`: synthetic query-document training pairs for the target corpora.

Documents only (never benchmark queries) are sampled from each corpus in
`synthesize.corpora`, and from your own documents (`synthesize.own_corpus`); queries come
from the LLM chosen in `llm`, or from the offline self-supervised methods. Writes
data/synth/pairs.jsonl, reports/synthesis.json and data/own (what your documents are
scored on; only `about.json` without them); LLM replies are cached per document under
data/synth/cache (resume).
"""

from __future__ import annotations

from pathlib import Path

from nsparse.config import load_params
from nsparse.data import read_corpus, write_pairs
from nsparse.io import write_json, write_timings
from nsparse.llm import make_generator
from nsparse.pipeline.synthesize import own_corpora, synthesize_corpora


def main() -> None:
    params = load_params()
    settings, seed, paths = params["synthesize"], params["seed"], params["paths"]
    corpora = {name: read_corpus(Path(paths["benchmarks"]) / name / "corpus.jsonl") for name in settings["corpora"]}
    synth = Path(paths["synth"])
    cache = synth / "cache"
    cache.mkdir(parents=True, exist_ok=True)  # a DVC output even when the offline back end caches nothing
    pairs, report = synthesize_corpora(
        corpora,
        own_corpora(settings),
        settings,
        make_generator(params["llm"], seed=seed),
        seed,
        cache,
        Path(paths["own"]),
    )
    write_pairs(synth / "pairs.jsonl", pairs)
    write_timings(paths["reports"], "synthesize", report.pop("timings_s"))
    write_json(Path(paths["reports"]) / "synthesis.json", report)


if __name__ == "__main__":
    main()
