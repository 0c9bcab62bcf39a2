"""DVC stage `mix`: model v2's training pairs (original + synthetic + code-switched copies)."""

from __future__ import annotations

from nsparse.config import load_params
from nsparse.data import read_pairs, write_pairs
from nsparse.io import write_json
from nsparse.pipeline.mix import build_mixture
from nsparse.synonyms import read_verified_dictionary


def main() -> None:
    params = load_params()
    settings = params["mix"]
    mixture, composition = build_mixture(
        read_pairs("data/train/pairs.jsonl"),
        read_pairs("data/synth/pairs.jsonl"),
        read_verified_dictionary("data/synonyms/dictionary.tsv"),
        settings,
        params["seed"],
    )
    write_pairs("data/mix/v2/pairs.jsonl", mixture)
    write_json("data/mix/v2/composition.json", composition)
    print(composition)


if __name__ == "__main__":
    main()
