"""Code-switching: Korean nouns replaced by their English translations, as Korean users write queries.

Benchmark building (code-switched queries) and the training mixture both switch
text the same way, through `code_switch`; it lives apart from the plain analysis
(`nsparse.korean`) because only these two callers need it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence

from nsparse.korean import has_hangul, kiwi

# Only nouns are code-switched: a noun's surface span is exactly its morpheme, so
# replacing it keeps the following particle intact (학교에서 -> school에서), whereas
# verb and adjective stems fuse with their endings (아름다운 = 아름답 + 은).
SWITCHABLE_TAGS = ("NNG", "NNP")


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


def korean_to_english(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs whose source is Korean and whose target is not (MUSE lists some English-English rows)."""
    return [(korean, english) for korean, english in pairs if has_hangul(korean) and not has_hangul(english)]
