"""Stage `verify`: the verified Korean↔English dictionary (see nsparse.synonyms).

Mines candidates from the aligned LibreOffice help corpus, verifies them with the LLM
chosen in `llm` (or offline by statistics), merges the MUSE seed split, and writes
data/synonyms/dictionary.tsv, data/synonyms/opensearch_synonyms.txt and
reports/synonyms.json (precision/recall against the held-out MUSE split). Korean terms
of data/dict/codeswitch.tsv are withheld: no training step may see them.
"""

from __future__ import annotations

from pathlib import Path

from nsparse.config import load_params
from nsparse.data import read_corpus
from nsparse.dictionary import read_dictionary
from nsparse.io import write_json, write_timings
from nsparse.llm import make_generator
from nsparse.synonyms import build_synonyms, read_parallel, write_solr_synonyms, write_verified_dictionary

PARALLEL = Path("data/parallel/libreoffice.jsonl")
DICTIONARIES = Path("data/dict")
BENCHMARKS = Path("data/benchmarks")
DICTIONARY = Path("data/synonyms/dictionary.tsv")
SOLR_SYNONYMS = Path("data/synonyms/opensearch_synonyms.txt")
REPORT = Path("reports/synonyms.json")


def main() -> None:
    params = load_params()
    settings = params["verify"]
    generator = make_generator(params["llm"], seed=params["seed"])
    proposal_texts = (
        [
            doc["text"]
            for name in settings["propose_from"]
            for doc in read_corpus(BENCHMARKS / name / "corpus.jsonl").values()
        ]
        if generator is not None
        else []
    )
    entries, report = build_synonyms(
        read_parallel(PARALLEL),
        settings,
        generator,
        seed=read_dictionary(DICTIONARIES / "seed.tsv"),
        heldout=read_dictionary(DICTIONARIES / "heldout.tsv"),
        withheld_korean=set(read_dictionary(DICTIONARIES / "codeswitch.tsv")),
        proposal_texts=proposal_texts,
    )
    write_verified_dictionary(DICTIONARY, entries)
    report["dictionary"]["solr_lines"] = write_solr_synonyms(SOLR_SYNONYMS, entries)
    write_timings("verify", report.pop("timings_s"))
    write_json(REPORT, report)


if __name__ == "__main__":
    main()
