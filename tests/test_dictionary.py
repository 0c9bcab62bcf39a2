import pytest

from nsparse.data import DataFormatError
from nsparse.dictionary import group_translations, read_dictionary, write_dictionary


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
