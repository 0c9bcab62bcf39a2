"""The words of a text with the vocabulary pieces they became: what `nsparse encode` and `explain` show.

A vector's terms are vocabulary pieces (`서울`, `##은`); a person reads words. A fast tokenizer
says which word of the text each piece comes from (`word_ids()`: the words of its
pre-tokenizer, split at whitespace and punctuation) and where in the text that word stands
(`offset_mapping`), so each word is shown as written, with its pieces and their weights:
대한민국의 = `대한` `##민국` `##의`. Terms of a vector that are in no word of the text (the
model's expansion terms, such as the English translations of a Korean document) are whole
words of the vocabulary and are shown as themselves by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class Word:
    text: str  # as written in the text (its first occurrence)
    pieces: tuple[str, ...]  # the vocabulary pieces it became, in order
    weights: tuple[float, ...]  # each piece's weight in the vector (0: not in it)

    @property
    def weight(self) -> float:
        """Its pieces' weights added up; a piece twice in the word counts once, as the vector holds it once."""
        return sum(dict(zip(self.pieces, self.weights)).values())


@dataclass(frozen=True)
class WordMatch:
    word: Word  # a word of the query, its weights the query's
    matched: tuple[str, ...]  # its pieces the document also holds, counted in this word's contribution
    shared: tuple[tuple[str, str], ...]  # (piece, earlier query word it is counted in): matched, counted there
    contribution: float  # query weight x document weight of the pieces counted here


def word_pieces(tokenizer: PreTrainedTokenizerBase, text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Each distinct word of `text` (as first written) with the pieces it became, in text order.

    Words are the tokenizer's (its pre-tokenizer's); two words that become the same pieces
    (`Seoul`, `seoul`) are one. A tokenizer without offsets (not a fast one) gives each piece
    as a word of its own.
    """
    if not tokenizer.is_fast:
        return [(piece, (piece,)) for piece in dict.fromkeys(tokenizer.tokenize(text))]
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    positions: dict[int, list[int]] = {}
    for position, word in enumerate(encoding.word_ids()):
        if word is not None:
            positions.setdefault(word, []).append(position)
    offsets, ids = encoding["offset_mapping"], encoding["input_ids"]
    words: dict[tuple[str, ...], str] = {}
    for span in positions.values():
        pieces = tuple(tokenizer.convert_ids_to_tokens([ids[position] for position in span]))
        words.setdefault(pieces, text[offsets[span[0]][0] : offsets[span[-1]][1]])
    return [(written, pieces) for pieces, written in words.items()]


def text_words(tokenizer: PreTrainedTokenizerBase, text: str, weights: Mapping[str, float]) -> list[Word]:
    """The words of `text` with their pieces' weights in one vector (`weights`: {token: weight}), in text order;
    a word none of whose pieces the vector holds (particles, punctuation, unknown words) is left out."""
    words = [
        Word(written, pieces, tuple(float(weights.get(piece, 0.0)) for piece in pieces))
        for written, pieces in word_pieces(tokenizer, text)
    ]
    return [word for word in words if word.weight > 0]


def match_words(
    query_words: Sequence[Word], contributions: Mapping[str, float]
) -> tuple[list[WordMatch], dict[str, float]]:
    """The score's contributions ({token: query weight x document weight}) grouped by the query's words.

    A word matches when some of its pieces do; its contribution is theirs. A piece held by
    two words of the query is counted in the first (in `query_words`' order), so the words'
    contributions and the rest add up to the score. Returns one `WordMatch` per word (its
    contribution 0 when nothing matched) and the rest: the contributions of terms in no
    word of the query (its expansion terms).
    """
    counted: dict[str, str] = {}
    matches = []
    for word in query_words:
        matched = tuple(piece for piece in dict.fromkeys(word.pieces) if piece in contributions)
        own = tuple(piece for piece in matched if piece not in counted)
        shared = tuple((piece, counted[piece]) for piece in matched if piece in counted)
        counted.update(dict.fromkeys(own, word.text))
        matches.append(WordMatch(word, own, shared, sum(contributions[piece] for piece in own)))
    in_words = {piece for word in query_words for piece in word.pieces}
    rest = {token: value for token, value in contributions.items() if token not in in_words}
    return matches, rest
