"""Stage `synthesize`: synthetic query-document training pairs for the target corpora.

Documents only (never benchmark queries) are sampled from each corpus in
`synthesize.corpora`, and from your own documents (`synthesize.own_corpus`); queries come
from the LLM chosen in `llm` (a base model is shown `synthesize.fewshot_shots` of v1's
training pairs), or from the offline self-supervised methods. Writes
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
from nsparse.pipeline.synthesize import base_model_prompt, own_corpora, synthesize_corpora


def main() -> None:
    params = load_params()
    settings, seed, paths = params.synthesize, params.seed, params.paths
    corpora = {name: read_corpus(Path(paths.benchmarks) / name / "corpus.jsonl") for name in settings.corpora}
    synth = Path(paths.synth)
    cache = synth / "cache"
    cache.mkdir(parents=True, exist_ok=True)  # a DVC output even when the offline back end caches nothing
    generator = make_generator(params.llm, seed=seed)
    fewshot = None
    if generator is not None and not generator.chat:  # a base model: few-shot examples from v1's training pairs
        fewshot = base_model_prompt(
            Path(paths.train) / "pairs.jsonl",
            Path(paths.benchmarks),
            settings.fewshot_shots,
            seed,
            settings.filters.min_hangul_ratio,
        )
    pairs, report = synthesize_corpora(
        corpora, own_corpora(settings), settings, params.bm25, generator, seed, cache, Path(paths.own), fewshot
    )
    write_pairs(synth / "pairs.jsonl", pairs)
    write_timings(paths.reports, "synthesize", report.pop("timings_s"))
    write_json(Path(paths.reports) / "synthesis.json", report)


if __name__ == "__main__":
    main()
