"""DVC stage `mix`: model v2's training pairs (original + synthetic + code-switched copies)."""

from __future__ import annotations

from pathlib import Path

from nsparse.config import load_params
from nsparse.data import read_pairs, write_pairs
from nsparse.data.format import read_verified_dictionary
from nsparse.io import write_json
from nsparse.pipeline.mix import build_mixture


def main() -> None:
    params = load_params()
    paths = params.paths
    mixture, composition = build_mixture(
        read_pairs(Path(paths.train) / "pairs.jsonl"),
        read_pairs(Path(paths.synth) / "pairs.jsonl"),
        read_verified_dictionary(Path(paths.synonyms) / "dictionary.tsv"),
        params.mix,
        params.seed,
    )
    output = Path(paths.mix) / "v2"
    write_pairs(output / "pairs.jsonl", mixture)
    write_json(output / "composition.json", composition)
    print(composition)


if __name__ == "__main__":
    main()
