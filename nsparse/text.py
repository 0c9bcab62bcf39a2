"""Korean/English text analysis shared by BM25, synthesis filters, mining and code-switching.

Every component that needs "the words of a text" uses `analyze`, so BM25 baselines,
hard-negative mining and query filters all see the same tokens: kiwipiepy content
morphemes, lower-cased (particles and endings dropped; English, numbers and Hanja kept).
"""

from __future__ import annotations

import functools
import os
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence

from kiwipiepy import Kiwi, Token

from nsparse.io import atomic_open

# Content-morpheme tags: nouns, verb/adjective stems, foreign words, numbers, Hanja,
# roots and determiners. The reference BM25 figures in DATA.md use exactly this set.
CONTENT_TAG_PREFIXES = ("NN", "VV", "VA", "SL", "SN", "SH", "XR", "MM")

# Only nouns are code-switched: a noun's surface span is exactly its morpheme, so
# replacing it keeps the following particle intact (학교에서 -> school에서), whereas
# verb and adjective stems fuse with their endings (아름다운 = 아름답 + 은).
SWITCHABLE_TAGS = ("NNG", "NNP")

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@functools.cache
def kiwi() -> Kiwi:
    """The one shared Kiwi instance (loading its model takes about a second)."""
    return Kiwi()


def _content_forms(tokens: Iterable[Token]) -> list[str]:
    return [token.form.lower() for token in tokens if token.tag.startswith(CONTENT_TAG_PREFIXES)]


def analyze(text: str) -> list[str]:
    """Lower-cased content morphemes of `text` (the BM25 tokenization)."""
    return _content_forms(kiwi().tokenize(text))


def analyze_batch(texts: Iterable[str]) -> Iterator[list[str]]:
    """`analyze` over many texts through Kiwi's multi-text API (several times faster)."""
    for tokens in kiwi().tokenize(texts):
        yield _content_forms(tokens)


def has_hangul(text: str) -> bool:
    return HANGUL.search(text) is not None


def code_switch(text: str, dictionary: Mapping[str, Sequence[str]], rate: float, rng: random.Random) -> str:
    """Replace Korean nouns found in `dictionary` by an English translation, each with probability `rate`.

    The replacement covers only the noun's own characters, so particles and spacing stay
    as written: "학교에서 공부" may become "school에서 공부". Draws from `rng` happen in
    a fixed order, so the same seed gives the same output.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"code_switch rate must lie in [0, 1], got {rate}")
    pieces: list[str] = []
    cursor = 0
    for token in kiwi().tokenize(text):
        translations = dictionary.get(token.form) if token.tag in SWITCHABLE_TAGS else None
        if not translations or rng.random() >= rate:
            continue
        surface_end = token.start + token.len
        if text[token.start : surface_end] != token.form:
            continue  # Kiwi normalised the surface; replacing would garble the text
        pieces.append(text[cursor : token.start])
        pieces.append(rng.choice(translations))
        cursor = surface_end
    pieces.append(text[cursor:])
    return "".join(pieces)


def group_translations(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """{korean: [english, ...]} from (ko, en) pairs, translations in first-seen order without repeats."""
    dictionary: dict[str, list[str]] = {}
    for korean, english in pairs:
        translations = dictionary.setdefault(korean, [])
        if english not in translations:
            translations.append(english)
    return dictionary


def korean_to_english(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs whose source is Korean and whose target is not (MUSE lists some English-English rows)."""
    return [(korean, english) for korean, english in pairs if has_hangul(korean) and not has_hangul(english)]


def read_dictionary(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Read a `ko<TAB>en` dictionary into {korean: [english, ...]} in file order.

    Bytes that are not UTF-8 and a row without exactly two non-empty tab-separated
    fields are errors naming the file and line; blank lines are skipped.
    """
    # Imported here: nsparse.data depends on nsparse.text, not the other way round.
    from nsparse.data.format import DataFormatError, text_lines

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
