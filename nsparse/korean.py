"""Korean/English text analysis shared by BM25, synthesis filters, mining and code-switching.

Every component that needs "the words of a text" uses `analyze`, so BM25 baselines,
hard-negative mining and query filters all see the same tokens: kiwipiepy content
morphemes, lower-cased (particles and endings dropped; English, numbers and Hanja kept).
This module holds only the analysis (one shared Kiwi instance), so modules that need
tokens import nothing about dictionaries or code-switching.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

from kiwipiepy import Kiwi, Token

# Content-morpheme tags: nouns, verb/adjective stems, foreign words, numbers, Hanja,
# roots and determiners. The reference BM25 figures in DATA.md use exactly this set.
CONTENT_TAG_PREFIXES = ("NN", "VV", "VA", "SL", "SN", "SH", "XR", "MM")

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
