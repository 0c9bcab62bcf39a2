"""Which vocabulary: each candidate size measured without training -> reports/vocabulary.json.

For every candidate (today's base model given by --baseline, then the vocabulary of
`nsparse.model.vocabulary` at each --sizes value, learned as the `base` stage learns it)
an untrained base is written (tokenizer, stop pieces, seeded masked LM) and the lexical
floor and floor + translation table are built exactly as scripts/ablation.py builds them
(params.yaml's `train`, `bm25`, v1's parallel text). Reported per candidate: exact nDCG@10
on the dev splits (what decides) and the test splits, document nnz, the table's held-out
precision / recall (data/dict/heldout.tsv), the share of the 1,000 most frequent korquad
corpus nouns and of the 500 most frequent msmarco-en2ko query words that are one piece,
and a few translations. Run from the project root after `prepare`:

    python scripts/vocabulary_sizes.py --baseline models/base --sizes 16000 32000 48000 64000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerFast

from nsparse.config import load_params
from nsparse.data.format import load_benchmark, read_queries
from nsparse.io import read_json, write_json
from nsparse.model.base import new_masked_lm, read_lines, seed_everything, vocabulary_lines
from nsparse.model.encoder import SparseEncoder
from nsparse.model.vocabulary import (
    _pipeline,
    count_pieces,
    frequent_english_words,
    frequent_nouns,
    save_stop_pieces,
    split_words,
    tokenizer_from_counts,
)
from nsparse.params import Base, Params
from nsparse.train.setup import build_encoder
from nsparse.train.validation import capped_validation_set, validate
from stages.base import corpus_texts

SPLITS = {"dev": ["korquad", "msmarco-ko", "msmarco-en2ko"], "test": ["korquad", "msmarco-ko", "msmarco-en2ko"]}
EXAMPLES = ["서울", "수도", "대한민국", "한국", "대통령", "정부", "병원", "증상", "정의", "차이", "비용", "물"]


def write_candidate(lines: list[str], sizes: list[int], settings: Base, seed: int, root: Path) -> dict[int, Path]:
    """One untrained base folder per size, all from one kiwi count of the vocabulary text."""
    counter = count_pieces(lines, _pipeline().normalizer)
    folders = {}
    for size in sizes:
        tokenizer, stops = tokenizer_from_counts(counter, size, settings.min_frequency)
        tokenizer.model_max_length = settings.max_length
        seed_everything(seed)
        folder = root / str(size)
        new_masked_lm(tokenizer, settings).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        save_stop_pieces(folder, stops)
        folders[size] = folder
    return folders


def scores(encoder: SparseEncoder, sets: dict[str, Any]) -> dict[str, Any]:
    """nDCG@10 per split and benchmark, and document nnz per corpus, of exact retrieval (as ablation.py)."""
    encoder.eval()
    figures = validate(encoder, sets)
    result: dict[str, Any] = {split: {} for split in SPLITS}
    for key in sets:
        split, name = key.split(":")
        result[split][name] = round(figures[f"{key}/ndcg@10"], 4)
    result["doc_nnz"] = {
        name: round(figures[f"test:{name}/doc_nnz"], 1) for name in ("korquad", "msmarco-ko") if f"test:{name}" in sets
    }
    return result


def measure(
    base: Path, params: Params, sets: dict[str, Any], nouns: list[str], words: list[str], heldout: Path
) -> dict[str, Any]:
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(base / "tokenizer.json"))
    split_nouns, split_english = split_words(tokenizer, nouns), split_words(tokenizer, words)
    paths, bm25 = params.paths, params.bm25
    train = params.train.merged({"lexical": {"expansion": {"scales": [0.0]}}})  # the vocabulary's own effect
    corpora = [Path(paths.benchmarks) / name for name in train.lexical.idf_corpora]
    parallel = params.variants["v1"].parallel
    started = time.perf_counter()
    floor, _ = build_encoder(str(base), train, bm25, [], [], corpora)
    translated, figures = build_encoder(str(base), train, bm25, [], parallel, corpora, heldout)
    table = translated.translations()
    return {
        "vocab_size": len(tokenizer),
        "nouns_one_piece": round(1 - len(split_nouns) / len(nouns), 4),
        "english_one_piece": round(1 - len(split_english) / len(words), 4),
        "nouns_split": {word: " ".join(cut) for word, cut in list(split_nouns.items())[:20]},
        "english_split": {word: " ".join(cut) for word, cut in list(split_english.items())[:20]},
        "translation_heldout": figures["translation"]["heldout"],
        "translation_entries": figures["translation"]["entries"],
        "floor": scores(floor, sets),
        "+translation": scores(translated, sets),
        "examples": {word: {piece: table.get(piece, []) for piece in tokenizer.tokenize(word)} for word in EXAMPLES},
        "seconds": round(time.perf_counter() - started, 1),
    }


def table(report: dict[str, Any]) -> str:
    """The figures that decide, one markdown row per candidate."""
    lines = [
        "| candidate | nouns whole | English whole | table P / R | nnz floor / +table | dev floor"
        " korquad / msmarco-ko / en2ko | dev floor+table | test floor+table |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in report["candidates"].items():
        heldout, floor, translated = row["translation_heldout"], row["floor"], row["+translation"]
        nnz = f"{floor['doc_nnz']['korquad']:.0f} / {translated['doc_nnz']['korquad']:.0f}"
        floor_dev, dev, test = (
            " / ".join(f"{scores[split][name]:.4f}" for name in SPLITS[split])
            for scores, split in ((floor, "dev"), (translated, "dev"), (translated, "test"))
        )
        lines.append(
            f"| {name} | {row['nouns_one_piece']:.1%} | {row['english_one_piece']:.1%} | "
            f"{heldout['precision']:.2f} / {heldout['recall']:.2f} | {nnz} | {floor_dev} | {dev} | {test} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="an existing base model folder to measure first (today's)")
    parser.add_argument("--sizes", type=int, nargs="*", default=[16000, 32000, 48000, 64000])
    parser.add_argument("--output", type=Path, default=Path("reports/vocabulary.json"))
    parser.add_argument("--table", action="store_true", help="only print the table of an existing --output")
    args = parser.parse_args()
    if args.table:
        print(table(read_json(args.output)))
        return
    params = load_params()
    paths, base = params.paths, params.base
    benchmarks = Path(paths.benchmarks)
    sets = {
        f"{split}:{name}": capped_validation_set(load_benchmark(benchmarks / name, split), None, None, params.seed)
        for split, names in SPLITS.items()
        for name in names
    }
    korquad = corpus_texts(benchmarks, ["korquad"])
    nouns = frequent_nouns(korquad, 1000)
    words = frequent_english_words(list(read_queries(benchmarks / "msmarco-en2ko/queries.jsonl").values()), 500)
    heldout = Path(paths.dictionaries) / "heldout.tsv"
    report: dict[str, Any] = {
        "vocabulary_corpora": base.vocabulary_corpora,
        "nouns": {"source": "korquad corpus, kiwi NNG/NNP, >= 2 syllables", "count": len(nouns)},
        "english": {"source": "msmarco-en2ko queries, stop words aside", "count": len(words)},
        "candidates": {},
    }
    if args.baseline:
        report["candidates"]["baseline"] = measure(args.baseline, params, sets, nouns, words, heldout)
        print("baseline", report["candidates"]["baseline"])
    lines = vocabulary_lines(
        read_lines(Path(paths.pretrain) / "text.txt"), corpus_texts(benchmarks, base.vocabulary_corpora)
    )
    with tempfile.TemporaryDirectory() as root:
        for size, folder in write_candidate(lines, args.sizes, base, params.seed, Path(root)).items():
            report["candidates"][str(size)] = measure(folder, params, sets, nouns, words, heldout)
            print(size, report["candidates"][str(size)])
    write_json(args.output, report)
    print(table(report))


if __name__ == "__main__":
    main()
