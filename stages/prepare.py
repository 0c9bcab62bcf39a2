"""Stage `prepare`: benchmarks, dictionaries, training pairs, parallel and pre-training text from the raw sources."""

from __future__ import annotations

import time
from pathlib import Path

from nsparse.config import load_params
from nsparse.data import write_benchmark, write_pairs
from nsparse.data.sources import (
    default_apt_cache,
    fetch_libreoffice_help,
    fetched_packages,
    read_korquad,
    read_libreoffice_parallel,
    read_msmarco,
    read_muse,
)
from nsparse.dictionary import write_dictionary
from nsparse.io import atomic_open, write_json, write_jsonl, write_timings
from nsparse.pipeline.prepare import build_prepared_data


def main() -> None:
    started = time.perf_counter()
    params = load_params()
    sources, paths = params.sources, params.paths
    shared = Path(sources.shared_data)
    raw = {
        "korquad": read_korquad(shared / sources.korquad),
        "msmarco": read_msmarco(shared / sources.msmarco_ko, shared / sources.msmarco_en),
        "muse_train": read_muse(shared / sources.muse_train),
        "muse_test": read_muse(shared / sources.muse_test),
    }
    help_root = fetch_libreoffice_help(sources.apt_cache or default_apt_cache(), sources.libreoffice_help)
    prepared = build_prepared_data(raw, read_libreoffice_parallel(help_root), params.prepare, params.bm25, params.seed)

    benchmarks, parallel = Path(paths.benchmarks), Path(paths.parallel)
    for name, benchmark in prepared.benchmarks.items():
        write_benchmark(benchmarks / name, benchmark.corpus, benchmark.queries, benchmark.qrels)
    for name, pairs in prepared.dictionaries.items():
        write_dictionary(Path(paths.dictionaries) / f"{name}.tsv", pairs)
    write_pairs(Path(paths.train) / "pairs.jsonl", prepared.pairs)
    write_jsonl(parallel / "libreoffice.jsonl", prepared.parallel)
    write_jsonl(parallel / "msmarco.jsonl", prepared.parallel_msmarco)
    write_json(parallel / "libreoffice_packages.json", fetched_packages(help_root))
    with atomic_open(Path(paths.pretrain) / "text.txt") as handle:
        handle.writelines(f"{line}\n" for line in prepared.pretrain_lines)
    write_json(benchmarks / "stats.json", prepared.stats)
    write_timings(paths.reports, "prepare", {"total": time.perf_counter() - started})


if __name__ == "__main__":
    main()
