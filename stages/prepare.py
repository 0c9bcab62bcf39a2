"""Stage `prepare`: benchmarks, dictionaries, training pairs, parallel and pre-training text from the raw sources."""

from __future__ import annotations

import time
from pathlib import Path

from nsparse.config import load_params
from nsparse.data import write_benchmark, write_pairs
from nsparse.data.benchmarks import build_prepared_data
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

DATA = Path("data")


def main() -> None:
    started = time.perf_counter()
    params = load_params()
    sources, settings = params["sources"], params["prepare"]
    shared = Path(sources["shared_data"])
    raw = {
        "korquad": read_korquad(shared / sources["korquad"]),
        "msmarco": read_msmarco(shared / sources["msmarco_ko"], shared / sources["msmarco_en"]),
        "muse_train": read_muse(shared / sources["muse_train"]),
        "muse_test": read_muse(shared / sources["muse_test"]),
    }
    help_root = fetch_libreoffice_help(sources["apt_cache"] or default_apt_cache(), sources["libreoffice_help"])
    prepared = build_prepared_data(raw, read_libreoffice_parallel(help_root), settings, params["seed"])

    for name, benchmark in prepared.benchmarks.items():
        write_benchmark(DATA / "benchmarks" / name, benchmark.corpus, benchmark.queries, benchmark.qrels)
    for name, pairs in prepared.dictionaries.items():
        write_dictionary(DATA / "dict" / f"{name}.tsv", pairs)
    write_pairs(DATA / "train" / "pairs.jsonl", prepared.pairs)
    write_jsonl(DATA / "parallel" / "libreoffice.jsonl", prepared.parallel)
    write_jsonl(DATA / "parallel" / "msmarco.jsonl", prepared.parallel_msmarco)
    write_json(DATA / "parallel" / "libreoffice_packages.json", fetched_packages(help_root))
    with atomic_open(DATA / "pretrain" / "text.txt") as handle:
        handle.writelines(f"{line}\n" for line in prepared.pretrain_lines)
    write_json(DATA / "benchmarks" / "stats.json", prepared.stats)
    write_timings("prepare", {"total": time.perf_counter() - started})


if __name__ == "__main__":
    main()
