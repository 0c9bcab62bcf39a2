import random

import pytest

from nsparse.codeswitch import code_switch, korean_to_english

DICTIONARY = {"학교": ["school"], "방법": ["method", "way"], "사람": ["person"]}


def test_code_switch_replaces_nouns_and_keeps_particles():
    switched = code_switch("학교에서 공부하는 사람들", DICTIONARY, rate=1.0, rng=random.Random(0))
    assert switched == "school에서 공부하는 person들"


def test_code_switch_rate_zero_leaves_text_unchanged():
    text = "학교에서 공부하는 방법"
    assert code_switch(text, DICTIONARY, rate=0.0, rng=random.Random(0)) == text


def test_code_switch_is_deterministic_under_a_seed_and_partial_at_half_rate():
    text = " ".join(["학교 사람 방법"] * 10)
    first = code_switch(text, DICTIONARY, rate=0.5, rng=random.Random(7))
    assert first == code_switch(text, DICTIONARY, rate=0.5, rng=random.Random(7))
    assert "학교" in first and "school" in first


def test_code_switch_rejects_rate_outside_unit_interval():
    with pytest.raises(ValueError, match="rate"):
        code_switch("학교", DICTIONARY, rate=1.5, rng=random.Random(0))


def test_korean_to_english_drops_rows_that_are_not_korean_to_english():
    pairs = [("학교", "school"), ("the", "the"), ("책", "책"), ("cpu", "cpu"), ("사과", "apple")]
    assert korean_to_english(pairs) == [("학교", "school"), ("사과", "apple")]
