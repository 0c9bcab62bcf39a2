import json
import shutil
from pathlib import Path

import pytest

from nsparse.data import DataFormatError
from nsparse.data.sources import (
    default_apt_cache,
    fetch_libreoffice_help,
    read_korquad,
    read_libreoffice_parallel,
    read_msmarco,
    read_muse,
    text_id,
)

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _squad(articles):
    return {"version": "1", "data": articles}


ARTICLE = {
    "title": "학교",
    "paragraphs": [
        {"context": "학교는 교육 기관이다.", "qas": [{"id": "a1", "question": " 학교는 무엇인가? ", "answers": []}]},
        {"context": "학교는 교육 기관이다.", "qas": [{"id": "a2", "question": "학교의 정의는?", "answers": []}]},
    ],
}


def test_read_korquad_gives_question_title_and_paragraph(tmp_path):
    path = tmp_path / "k.json"
    path.write_text(json.dumps(_squad([ARTICLE]), ensure_ascii=False), encoding="utf-8")
    questions = read_korquad(path)
    assert [(q.question_id, q.question, q.title, q.context) for q in questions] == [
        ("a1", "학교는 무엇인가?", "학교", "학교는 교육 기관이다."),
        ("a2", "학교의 정의는?", "학교", "학교는 교육 기관이다."),
    ]


@pytest.mark.parametrize(
    ("document", "fault"),
    [
        ({"data": {}}, r":data: expected"),
        (_squad([{"paragraphs": []}]), r":data\[0\]: article needs a string 'title'"),
        (
            _squad([{"title": "t", "paragraphs": [{"qas": []}]}]),
            r":data\[0\].paragraphs\[0\]: paragraph needs a string 'context'",
        ),
        (
            _squad([{"title": "t", "paragraphs": [{"context": "c", "qas": [{"id": "x"}]}]}]),
            r":data\[0\].paragraphs\[0\].qas\[0\]: question needs a string 'question'",
        ),
        (_squad([ARTICLE, ARTICLE]), r":data: duplicate question ids, e.g. \[.a1., .a2.\]"),
    ],
)
def test_read_korquad_names_the_faulty_record(tmp_path, document, fault):
    path = tmp_path / "k.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataFormatError, match="k.json" + fault):
        read_korquad(path)


def test_read_korquad_reports_the_line_of_broken_json(tmp_path):
    path = tmp_path / "k.json"
    path.write_text('{"data": [\n{"title": "t",,}\n]}', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"k.json:2: not valid JSON"):
        read_korquad(path)


def _write_msmarco(path, records):
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def test_read_msmarco_joins_languages_by_id(tmp_path):
    korean = _write_msmarco(
        tmp_path / "ko.json",
        [{"id": 2, "query": "질문", "positive": ["답 "]}, {"id": 1, "query": "둘", "positive": ["셋"]}],
    )
    english = _write_msmarco(
        tmp_path / "en.json",
        [{"id": 1, "query": "two", "positive": ["three"]}, {"id": 2, "query": "question", "positive": ["answer"]}],
    )
    records = {record.record_id: record for record in read_msmarco(korean, english)}
    assert records["2"].query_ko == "질문" and records["2"].query_en == "question"
    assert records["2"].positives_ko == ("답",) and records["1"].positives_en == ("three",)


@pytest.mark.parametrize(
    ("korean_records", "fault"),
    [
        ([{"id": 1, "query": "q", "positive": "p"}], r"ko.json:record 0: 'positive' must be a non-empty list"),
        ([{"id": 1, "query": "q", "positive": []}], r"ko.json:record 0: 'positive' must be a non-empty list"),
        ([{"id": 1, "positive": ["p"]}], r"ko.json:record 0: record needs a string 'query'"),
        (
            [{"id": 1, "query": "q", "positive": ["p"]}, {"id": 1, "query": "q", "positive": ["p"]}],
            r"ko.json:record 1: duplicate id '1'",
        ),
        ([{"id": 9, "query": "q", "positive": ["p"]}], r"en.json:ids: 2 ids not in both files"),
    ],
)
def test_read_msmarco_names_the_faulty_record(tmp_path, korean_records, fault):
    korean = _write_msmarco(tmp_path / "ko.json", korean_records)
    english = _write_msmarco(tmp_path / "en.json", [{"id": 1, "query": "q", "positive": ["p"]}])
    with pytest.raises(DataFormatError, match=fault):
        read_msmarco(korean, english)


def test_real_sources_have_the_documented_sizes():
    questions = read_korquad(SHARED / "korquad-v1" / "KorQuAD_v1.0_dev.json")
    records = read_msmarco(SHARED / "msmarco-kor" / "msmarco_kor.json", SHARED / "msmarco-kor" / "msmarco_eng.json")
    assert len(questions) == 5774 and len({q.title for q in questions}) == 140
    assert len(records) == 6980
    assert len({text for record in records for text in record.positives_ko}) == 7279


def test_read_muse_accepts_tab_and_space_and_rejects_other_rows(tmp_path):
    path = tmp_path / "ko-en.txt"
    path.write_text("학교\tschool\n사람 person\n\n", encoding="utf-8")
    assert read_muse(path) == [("학교", "school"), ("사람", "person")]
    path.write_text("학교\tschool\n사람\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"ko-en.txt:2: expected 'source target'"):
        read_muse(path)


def test_text_id_is_stable_and_distinguishes_texts():
    assert text_id("msm", "가") == text_id("msm", "가")
    assert text_id("msm", "가") != text_id("msm", "나")
    assert text_id("msm", "가").startswith("msm-")


def _page(language, body):
    head = f'<!DOCTYPE html><html lang="{language}"><head><title>t</title></head>'
    return f'{head}<body><div id="DisplayArea">{body}</div></body></html>'


def test_read_libreoffice_parallel_aligns_translated_paragraphs_by_page_and_id(tmp_path):
    ko, en = tmp_path / "ko" / "text" / "shared", tmp_path / "en-US" / "text" / "shared"
    ko.mkdir(parents=True)
    en.mkdir(parents=True)
    (ko / "a.html").write_text(
        _page(
            "ko",
            '<h1 id="hd_id1">서식 <a href="x">지정</a></h1>'
            '<p id="par_id2">Untranslated text</p>'
            '<p id="par_id3" class="paragraph">셀을 <span id="s1">선택</span>합니다.</p>'
            '<p id="par_id3">반복된 문단</p>'
            '<p id="par_id4">영어 없음</p>'
            '<p class="howto">아이디 없음</p>',
        ),
        encoding="utf-8",
    )
    (en / "a.html").write_text(
        _page(
            "en-US",
            '<h1 id="hd_id1">Format <a href="x">settings</a></h1>'
            '<p id="par_id2">Untranslated text</p>'
            '<p id="par_id3">Select the cell.</p>',
        ),
        encoding="utf-8",
    )
    (ko / "only-korean.html").write_text(_page("ko", '<p id="par_id1">짝 없는 쪽</p>'), encoding="utf-8")
    assert read_libreoffice_parallel(tmp_path) == [
        {"id": "text/shared/a.html#hd_id1", "ko": "서식 지정", "en": "Format settings"},
        {"id": "text/shared/a.html#par_id3", "ko": "셀을 선택합니다.", "en": "Select the cell."},
    ]


def test_read_libreoffice_parallel_needs_korean_pages(tmp_path):
    with pytest.raises(FileNotFoundError, match="no help pages"):
        read_libreoffice_parallel(tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("apt-get") is None or shutil.which("dpkg") is None, reason="needs apt-get and dpkg")
def test_real_libreoffice_help_packages_give_a_parallel_corpus():
    pairs = read_libreoffice_parallel(fetch_libreoffice_help(default_apt_cache()))
    assert 25_000 < len(pairs) < 32_000  # DATA.md: about 27,900 translated paragraphs
    assert len({pair["id"] for pair in pairs}) == len(pairs)
