"""Words, not only pieces: `nsparse.model.words`, on a tiny vocabulary that splits 대한민국 into `대한` `##민국`
and "capitals" into `capital` `##s`."""

from __future__ import annotations

from collections import Counter

import pytest

from nsparse.model.vocabulary import PieceCounter, tokenizer_from_counts
from nsparse.model.words import Word, match_words, text_words, word_pieces


def tokenizer_and_stops():
    """A hand-counted morpheme vocabulary: 대한 and ##민국 are pieces but 대한민국 is not; particles are stop pieces."""
    counter = PieceCounter()
    korean = ["대한", "##민국", "서울", "수도", "부산", "항구", "도시"]
    particles = ["##의", "##은", "##이", "##다"]
    counter.pieces = Counter({piece: 5 for piece in korean + particles})
    counter.function = Counter({piece: 5 for piece in particles})
    counter.latin_words = Counter({"seoul": 5, "capital": 5, "korea": 5, "city": 3, "cities": 1})  # spells ##s
    return tokenizer_from_counts(counter, 400, 2)


def test_the_vocabulary_splits_the_test_words() -> None:
    tokenizer, _ = tokenizer_and_stops()
    assert tokenizer.tokenize("대한민국의 capitals") == ["대한", "##민국", "##의", "capital", "##s"]


def test_words_join_their_pieces_as_written_once_each_in_text_order() -> None:
    tokenizer, _ = tokenizer_and_stops()
    text = "Capitals, 대한민국의 capitals 수도"
    assert word_pieces(tokenizer, text) == [
        ("Capitals", ("capital", "##s")),  # as written; "capitals" later becomes the same pieces
        (",", ("[UNK]",)),
        ("대한민국의", ("대한", "##민국", "##의")),
        ("수도", ("수도",)),
    ]
    weights = {"대한": 2.0, "##민국": 0.5, "capital": 1.0, "수도": 0.25}
    words = text_words(tokenizer, text, weights)  # "," weighs nothing: left out
    assert words == [
        Word("Capitals", ("capital", "##s"), (1.0, 0.0)),
        Word("대한민국의", ("대한", "##민국", "##의"), (2.0, 0.5, 0.0)),
        Word("수도", ("수도",), (0.25,)),
    ]
    assert [word.weight for word in words] == [1.0, 2.5, 0.25]


def test_match_words_counts_a_piece_once_so_words_add_up_to_the_score() -> None:
    words = [
        Word("서울", ("서울",), (1.0,)),
        Word("서울시", ("서울", "##시"), (1.0, 0.5)),
        Word("항구", ("항구",), (2.0,)),
    ]
    contributions = {"서울": 0.6, "##시": 0.1, "seoul": 0.2}
    by_word, rest = match_words(words, contributions)
    assert [(m.word.text, m.matched, m.shared) for m in by_word] == [
        ("서울", ("서울",), ()),
        ("서울시", ("##시",), (("서울", "서울"),)),
        ("항구", (), ()),
    ]
    assert [m.contribution for m in by_word] == pytest.approx([0.6, 0.1, 0.0])
    assert rest == {"seoul": 0.2}  # in no word of the query: an expansion term
    assert sum(m.contribution for m in by_word) + sum(rest.values()) == pytest.approx(sum(contributions.values()))
