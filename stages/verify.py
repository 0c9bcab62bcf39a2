"""Stage `verify`: the verified Korean↔English dictionary (see nsparse.pipeline.synonyms).

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
from nsparse.data.format import read_parallel
from nsparse.dictionary import read_dictionary
from nsparse.io import write_json, write_timings
from nsparse.llm import make_generator
from nsparse.pipeline.synonyms import build_synonyms
from nsparse.synonyms import write_solr_synonyms, write_verified_dictionary


def main() -> None:
    params = load_params()
    settings, paths = params.verify, params.paths
    dictionaries, synonyms = Path(paths.dictionaries), Path(paths.synonyms)
    generator = make_generator(params.llm, seed=params.seed)
    proposal_texts = (
        [
            doc["text"]
            for name in settings.propose_from
            for doc in read_corpus(Path(paths.benchmarks) / name / "corpus.jsonl").values()
        ]
        if generator is not None
        else []
    )
    entries, report = build_synonyms(
        read_parallel(Path(paths.parallel) / "libreoffice.jsonl"),
        settings,
        generator,
        seed=read_dictionary(dictionaries / "seed.tsv"),
        heldout=read_dictionary(dictionaries / "heldout.tsv"),
        withheld_korean=set(read_dictionary(dictionaries / "codeswitch.tsv")),
        proposal_texts=proposal_texts,
    )
    write_verified_dictionary(synonyms / "dictionary.tsv", entries)
    report["dictionary"]["solr_lines"] = write_solr_synonyms(synonyms / "opensearch_synonyms.txt", entries)
    write_timings(paths.reports, "verify", report.pop("timings_s"))
    write_json(Path(paths.reports) / "synonyms.json", report)


if __name__ == "__main__":
    main()
