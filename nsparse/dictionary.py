"""The plain bilingual dictionary files (`ko<TAB>en` per line, data/dict/*.tsv): reader and writer.

They live apart from the Korean analysis and the code-switching so that reading a
dictionary needs no morphological analyser. The verified synonym dictionary, with a
score and a source per row, is another format: `nsparse.synonyms.dictionary`
writes it and `nsparse.data.format.read_verified_dictionary` reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from nsparse.data.format import text_lines
from nsparse.io import DataFormatError, atomic_open


def group_translations(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """{korean: [english, ...]} from (ko, en) pairs, translations in first-seen order without repeats."""
    dictionary: dict[str, list[str]] = {}
    for korean, english in pairs:
        translations = dictionary.setdefault(korean, [])
        if english not in translations:
            translations.append(english)
    return dictionary


def read_dictionary(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Read a `ko<TAB>en` dictionary into {korean: [english, ...]} in file order.

    Bytes that are not UTF-8 and a row without exactly two non-empty tab-separated
    fields are errors naming the file and line; blank lines are skipped.
    """
    pairs = []
    for line_number, line in text_lines(path):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split("\t")]
        if len(fields) != 2 or not all(fields):
            raise DataFormatError(path, line_number, f"expected 'ko<TAB>en', got {line!r}")
        pairs.append((fields[0], fields[1]))
    return group_translations(pairs)


def write_dictionary(path: str | os.PathLike[str], pairs: Iterable[tuple[str, str]]) -> int:
    """Write (ko, en) pairs as `ko<TAB>en` lines, the format `read_dictionary` reads; return the row count."""
    rows = 0
    with atomic_open(path) as handle:
        for korean, english in pairs:
            handle.write(f"{korean}\t{english}\n")
            rows += 1
    return rows
