import random

import pytest

from nsparse.data import DataFormatError
from nsparse.text import (
    analyze,
    analyze_batch,
    code_switch,
    group_translations,
    korean_to_english,
    read_dictionary,
    write_dictionary,
)

DICTIONARY = {"학교": ["school"], "방법": ["method", "way"], "사람": ["person"]}


def test_analyze_keeps_content_morphemes_lowercased_and_drops_particles():
    assert analyze("학교에서 Python을 설치하는 방법") == ["학교", "python", "설치", "방법"]


def test_analyze_batch_equals_analyze_per_text():
    texts = ["학교에서 공부하는 사람", "아름다운 세상 3가지", "OpenSearch 색인"]
    assert list(analyze_batch(texts)) == [analyze(text) for text in texts]


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


def test_read_dictionary_groups_translations(tmp_path):
    path = tmp_path / "dict.tsv"
    path.write_text("학교\tschool\n방법\tmethod\n방법\tway\n방법\tway\n", encoding="utf-8")
    assert read_dictionary(path) == {"학교": ["school"], "방법": ["method", "way"]}


@pytest.mark.parametrize("bad_line", ["학교 school", "학교\t", "학교\tschool\textra"])
def test_read_dictionary_names_file_and_line_of_a_malformed_row(tmp_path, bad_line):
    path = tmp_path / "dict.tsv"
    path.write_text(f"학교\tschool\n{bad_line}\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"dict.tsv:2: expected 'ko<TAB>en'"):
        read_dictionary(path)


def test_dictionary_round_trip_keeps_pairs_in_order(tmp_path):
    pairs = [("학교", "school"), ("방법", "way"), ("학교", "academy")]
    assert write_dictionary(tmp_path / "d.tsv", pairs) == 3
    assert (
        read_dictionary(tmp_path / "d.tsv")
        == group_translations(pairs)
        == {
            "학교": ["school", "academy"],
            "방법": ["way"],
        }
    )


def test_korean_to_english_drops_rows_that_are_not_korean_to_english():
    pairs = [("학교", "school"), ("the", "the"), ("책", "책"), ("cpu", "cpu"), ("사과", "apple")]
    assert korean_to_english(pairs) == [("학교", "school"), ("사과", "apple")]
