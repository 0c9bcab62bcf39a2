"""Converters from the raw sources (KorQuAD, msmarco_Kor, MUSE, LibreOffice help, BEIR, Hugging Face).

They run at pipeline time and read the originals where they lie (`../shared/data`, the
apt cache): converted copies never enter the repository. Each converter validates
what it reads and names the file and the faulty record.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nsparse import config
from nsparse.data.format import PathLike, parse_json, text_lines, write_benchmark
from nsparse.io import DataFormatError, read_json, sha256_file, write_json
from nsparse.korean import has_hangul
from nsparse.params import DebianPackage

LIBREOFFICE_PACKAGES = {"ko": "libreoffice-help-ko", "en": "libreoffice-help-en-us"}
LIBREOFFICE_HELP_DIRS = {"ko": "ko", "en": "en-US"}
HELP_ROOT = Path("usr/share/libreoffice/help")
PACKAGES_RECORD = "packages.json"  # beside usr/: which .debs (version, SHA-256) the help root was unpacked from


def text_id(prefix: str, text: str) -> str:
    """A stable id derived from the text itself, so a passage seen twice becomes one document."""
    return f"{prefix}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:16]}"


def _load_json(path: PathLike) -> Any:
    """A whole JSON file; bytes that are not UTF-8, bad JSON and absurd nesting name their line."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataFormatError(path, line, f"not UTF-8: byte 0x{data[err.start]:02x}") from None
    return parse_json(text, path, None)


def _require(condition: bool, path: PathLike, where: str, fault: str) -> None:
    if not condition:
        raise DataFormatError(path, where, fault)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


# --- KorQuAD 1.0 -----------------------------------------------------------------


@dataclass(frozen=True)
class KorquadQuestion:
    question_id: str
    question: str
    title: str  # the Wikipedia article: questions are split by it
    context: str  # the paragraph that answers the question


def read_korquad(path: PathLike) -> list[KorquadQuestion]:
    """Every question of a SQuAD-v1 JSON file with its article title and answering paragraph."""
    document = _load_json(path)
    _require(
        isinstance(document, dict) and isinstance(document.get("data"), list), path, "data", "expected {'data': [...]}"
    )
    questions = []
    for article_index, article in enumerate(document["data"]):
        where = f"data[{article_index}]"
        _require(
            isinstance(article, dict) and _is_text(article.get("title")), path, where, "article needs a string 'title'"
        )
        _require(isinstance(article.get("paragraphs"), list), path, where, "article needs a 'paragraphs' list")
        for paragraph_index, paragraph in enumerate(article["paragraphs"]):
            where = f"data[{article_index}].paragraphs[{paragraph_index}]"
            _require(
                isinstance(paragraph, dict) and _is_text(paragraph.get("context")),
                path,
                where,
                "paragraph needs a string 'context'",
            )
            _require(isinstance(paragraph.get("qas"), list), path, where, "paragraph needs a 'qas' list")
            for qa_index, qa in enumerate(paragraph["qas"]):
                qa_where = f"{where}.qas[{qa_index}]"
                _require(
                    isinstance(qa, dict) and _is_text(qa.get("id")), path, qa_where, "question needs a string 'id'"
                )
                _require(_is_text(qa.get("question")), path, qa_where, "question needs a string 'question'")
                questions.append(
                    KorquadQuestion(qa["id"], qa["question"].strip(), article["title"], paragraph["context"])
                )
    repeated = [question_id for question_id, count in Counter(q.question_id for q in questions).items() if count > 1]
    _require(not repeated, path, "data", f"duplicate question ids, e.g. {repeated[:3]}")
    return questions


# --- msmarco_Kor -----------------------------------------------------------------


@dataclass(frozen=True)
class MsmarcoRecord:
    record_id: str
    query_ko: str
    query_en: str
    positives_ko: tuple[str, ...]
    positives_en: tuple[str, ...]


def _read_msmarco_file(path: PathLike) -> dict[str, dict[str, Any]]:
    records = _load_json(path)
    _require(isinstance(records, list), path, "top level", "expected a JSON list of records")
    by_id: dict[str, dict[str, Any]] = {}
    for index, record in enumerate(records):
        where = f"record {index}"
        _require(
            isinstance(record, dict) and isinstance(record.get("id"), (int, str)), path, where, "record needs an 'id'"
        )
        _require(_is_text(record.get("query")), path, where, "record needs a string 'query'")
        positives = record.get("positive")
        _require(
            isinstance(positives, list) and bool(positives) and all(_is_text(text) for text in positives),
            path,
            where,
            "'positive' must be a non-empty list of strings",
        )
        record_id = str(record["id"])
        _require(record_id not in by_id, path, where, f"duplicate id {record_id!r}")
        by_id[record_id] = record
    return by_id


def read_msmarco(korean_path: PathLike, english_path: PathLike) -> list[MsmarcoRecord]:
    """The Korean and English msmarco files joined by `id` (both must hold the same ids)."""
    korean, english = _read_msmarco_file(korean_path), _read_msmarco_file(english_path)
    unmatched = korean.keys() ^ english.keys()
    _require(
        not unmatched, english_path, "ids", f"{len(unmatched)} ids not in both files, e.g. {sorted(unmatched)[:3]}"
    )
    return [
        MsmarcoRecord(
            record_id=record_id,
            query_ko=record["query"].strip(),
            query_en=english[record_id]["query"].strip(),
            positives_ko=tuple(text.strip() for text in record["positive"]),
            positives_en=tuple(text.strip() for text in english[record_id]["positive"]),
        )
        for record_id, record in korean.items()
    ]


# --- MUSE dictionaries -----------------------------------------------------------


def read_muse(path: PathLike) -> list[tuple[str, str]]:
    """(source, target) pairs of a MUSE dictionary: one pair a line, tab or space separated.

    Errors (`file:line: fault`): bytes that are not UTF-8, a line without exactly two words.
    """
    pairs = []
    for line_number, line in text_lines(path):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise DataFormatError(path, line_number, f"expected 'source target', got {line!r}")
        pairs.append((fields[0], fields[1]))
    return pairs


# --- LibreOffice help (Debian packages) ------------------------------------------


def default_apt_cache() -> Path:
    """Where downloaded Debian packages are kept: $NSPARSE_HOME/apt, else ~/.cache/nsparse/apt."""
    home = os.environ.get("NSPARSE_HOME")
    return Path(home) / "apt" if home else Path.home() / ".cache" / "nsparse" / "apt"


def fetch_libreoffice_help(cache_dir: PathLike, packages: Mapping[str, DebianPackage] | None = None) -> Path:
    """Download (once) the pinned Korean and English help packages, check their SHA-256, unpack; return the help root.

    Why pinned: `apt-get download pkg` fetches whatever Debian serves today, so two
    machines (or one machine a month apart) would build different benchmarks from
    the same params. `packages` maps each package to its pinned version and sha256
    (params.yaml `sources.libreoffice_help`; None reads it from there). A version no
    longer served, or a .deb whose bytes differ from the pinned SHA-256, is an error
    that says what to do. What was unpacked is recorded in `packages.json` beside the
    help root (see `fetched_packages`).
    """
    pins = dict(packages if packages is not None else config.load_params().sources.libreoffice_help)
    missing = set(LIBREOFFICE_PACKAGES.values()) - pins.keys()
    if missing:
        raise ValueError(f"sources.libreoffice_help: no version pinned for {sorted(missing)}")
    cache = Path(cache_dir)
    unpacked = cache / "unpacked" / _safe_name("+".join(pins[p].version for p in sorted(pins)))
    help_root = unpacked / HELP_ROOT
    record_path = unpacked / PACKAGES_RECORD
    record = {package: _fetch_deb(cache, package, pin.version, pin.sha256) for package, pin in sorted(pins.items())}
    if (
        record_path.exists()
        and read_json(record_path) == record
        and all((help_root / d).is_dir() for d in LIBREOFFICE_HELP_DIRS.values())
    ):
        return help_root
    if unpacked.exists():
        shutil.rmtree(unpacked)  # an interrupted or different unpack: start clean
    unpacked.mkdir(parents=True)
    for entry in record.values():
        _run(["dpkg", "-x", str(cache / entry["deb"]), str(unpacked)], cache)
    write_json(record_path, record)
    return help_root


def fetched_packages(help_root: PathLike) -> dict[str, dict[str, str]]:
    """The `packages.json` record of the .debs a help root was unpacked from: package -> version, sha256, deb."""
    return read_json(Path(help_root).parents[len(HELP_ROOT.parts) - 1] / PACKAGES_RECORD)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+_-]", "_", text)


def _fetch_deb(cache: Path, package: str, version: str, sha256: str | None) -> dict[str, str]:
    """`<cache>/<package>/<version>/*.deb` (downloaded with apt-get when absent), checked against `sha256`."""
    folder = cache / package / _safe_name(version)
    folder.mkdir(parents=True, exist_ok=True)
    archives = sorted(folder.glob(f"{package}_*.deb"))
    if not archives:
        result = subprocess.run(
            ["apt-get", "download", f"{package}={version}"], cwd=folder, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            reason = " ".join(result.stderr.split()) or f"exit status {result.returncode}"
            raise RuntimeError(
                f"apt-get download {package}={version} failed: {reason}. If Debian no longer serves this version "
                f"(`apt-cache policy {package}` lists what it serves), pin a served one in params.yaml "
                f"sources.libreoffice_help.{package} (version and the SHA256 of `apt-cache show {package}=VERSION`), "
                f"or put the pinned .deb (e.g. from snapshot.debian.org) into {folder}"
            )
        archives = sorted(folder.glob(f"{package}_*.deb"))
        if len(archives) != 1:
            raise RuntimeError(f"apt-get download {package}={version} left {len(archives)} {package}_*.deb in {folder}")
    if len(archives) != 1:
        raise RuntimeError(f"{folder}: expected one {package}_*.deb, found {[a.name for a in archives]}")
    digest = sha256_file(archives[0])
    if sha256 is not None and digest != sha256:
        raise RuntimeError(
            f"{archives[0]}: SHA-256 {digest} differs from the pinned {sha256} (params.yaml "
            f"sources.libreoffice_help.{package}): not the bytes the benchmarks were built from; "
            "delete it to download again"
        )
    return {"version": version, "sha256": digest, "deb": archives[0].relative_to(cache).as_posix()}


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")


# Help paragraphs and headings carry ids such as par_id3146060 / hd_id3148932, equal across languages.
PARAGRAPH_ID = re.compile(r"^(par|hd)_id")
PARAGRAPH_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6"}


class _HelpPageParser(HTMLParser):
    """Collects the text of every identified paragraph/heading of one help page, first occurrence wins."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: dict[str, str] = {}
        self._open: tuple[str, str] | None = None  # (tag, id) being collected
        self._depth = 0
        self._pieces: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._open is not None:
            self._depth += tag == self._open[0]
            return
        paragraph_id = dict(attrs).get("id") or ""
        if tag in PARAGRAPH_TAGS and PARAGRAPH_ID.match(paragraph_id):
            self._open, self._depth, self._pieces = (tag, paragraph_id), 0, []

    def handle_endtag(self, tag: str) -> None:
        if self._open is None or tag != self._open[0]:
            return
        if self._depth:
            self._depth -= 1
            return
        text = " ".join("".join(self._pieces).split())
        self.paragraphs.setdefault(self._open[1], text)
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._pieces.append(data)


def _help_paragraphs(page: Path) -> dict[str, str]:
    """Identified paragraphs of one help page; a page that is not UTF-8 is an error naming its line."""
    parser = _HelpPageParser()
    parser.feed("\n".join(line for _, line in text_lines(page)))
    parser.close()
    return parser.paragraphs


def read_libreoffice_parallel(help_root: PathLike) -> list[dict[str, str]]:
    """Korean/English help paragraphs aligned by (page, id), keeping only those actually translated.

    A paragraph counts as translated when its Korean text contains Hangul and differs from
    the English text (untranslated strings are shipped in English in the Korean package).
    """
    root = Path(help_root)
    korean_root, english_root = root / LIBREOFFICE_HELP_DIRS["ko"], root / LIBREOFFICE_HELP_DIRS["en"]
    pages = sorted(korean_root.rglob("*.html"))
    if not pages:
        raise FileNotFoundError(f"{korean_root}: no help pages (is libreoffice-help-ko unpacked there?)")
    aligned = []
    for korean_page in tqdm(pages, desc="LibreOffice help pages", unit="page", disable=None):
        relative = korean_page.relative_to(korean_root)
        english_page = english_root / relative
        if not english_page.exists():
            continue
        english = _help_paragraphs(english_page)
        for paragraph_id, korean_text in _help_paragraphs(korean_page).items():
            english_text = english.get(paragraph_id, "")
            if english_text and has_hangul(korean_text) and korean_text != english_text:
                aligned.append({"id": f"{relative.as_posix()}#{paragraph_id}", "ko": korean_text, "en": english_text})
    return aligned


# --- Hugging Face (online users only) --------------------------------------------


def download_hf_beir(name: str, folder: PathLike, split: str = "test") -> None:
    """Write a BEIR-format dataset from the Hugging Face hub (e.g. "BeIR/scifact") as a benchmark folder.

    Needs network access and the optional `datasets` package (`pip install nsparse[hub]`);
    the pipeline and tests never call it. Corpus and queries come from the dataset's
    `corpus` and `queries` configurations, judgments from the companion `<name>-qrels`.
    """
    import datasets  # optional dependency, only for online users

    corpus = {
        str(row["_id"]): {"title": row.get("title") or "", "text": row["text"]}
        for row in datasets.load_dataset(name, "corpus", split="corpus")
    }
    queries = {str(row["_id"]): row["text"] for row in datasets.load_dataset(name, "queries", split="queries")}
    qrels: dict[str, dict[str, int]] = {}
    for row in datasets.load_dataset(f"{name}-qrels", split=split):
        qrels.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = int(row["score"])
    write_benchmark(folder, corpus, queries, {split: qrels})
