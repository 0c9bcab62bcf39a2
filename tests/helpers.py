"""What several test modules share: small corpora, tiny models, and ways to run the CLI and stages as users do."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import yaml

from nsparse.cli import main
from nsparse.config import load_params
from nsparse.data import Benchmark
from nsparse.export.package import export_variant
from nsparse.io import write_jsonl
from nsparse.model.base import new_masked_lm
from nsparse.model.encoder import UNSAVED_SETTINGS, EncoderSettings, SparseEncoder, compute_idf
from nsparse.model.translation import learn_translation_table
from nsparse.model.vocabulary import train_tokenizer
from nsparse.params import Llm, Synthesize
from nsparse.train.validation import capped_validation_set

ROOT = Path(__file__).resolve().parents[1]

TEXTS = [
    "서울은 대한민국의 수도이다.",
    "부산은 대한민국 제2의 도시이며 항구 도시이다.",
    "Seoul is the capital of South Korea.",
    "김치는 한국의 전통 음식이다.",
    "서울에서 부산까지 기차로 세 시간이 걸린다.",
]
# Deploy's params from params.yaml with every name the test fixtures clean up (`nsparse-test-*`).
DEPLOY_TEST_PARAMS = load_params(ROOT / "params.yaml").deploy.merged(
    {"model_group": "nsparse-test-group", "index_prefix": "nsparse-test", "ingest": "auto"}
)
PARAMS = load_params(ROOT / "params.yaml")  # tests vary its sections with `Section.merged`
# params.yaml's `base:` shrunk to a one-layer model that builds in milliseconds.
TINY = PARAMS.base.merged(
    {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64, "max_length": 64, "block_length": 64}
)
# A plain transformer encoder (no floor, no pruning) reading 64 tokens: what tiny_encoder builds unless told.
TINY_ENCODER = {"lexical_floor": False, "prune_ratio": 0.0, "max_length": 64, "passage_overlap": None, "window": None}


def encoder_settings(**overrides: Any) -> EncoderSettings:
    """A new model's settings as the `train` stage gives them (params.yaml's `train.encoder`, `bm25`), `overrides`
    laid over `train.encoder`."""
    encoder = PARAMS.train.encoder.merged(overrides)
    return EncoderSettings(
        **encoder.model_dump(), **PARAMS.bm25.model_dump(), avg_doc_length=UNSAVED_SETTINGS["avg_doc_length"]
    )


def tiny_encoder(**overrides: Any) -> SparseEncoder:
    """A randomly initialised one-layer encoder with a WordPiece vocabulary learned from TEXTS (TINY_ENCODER's
    settings, `overrides` laid over them)."""
    torch.manual_seed(0)
    tokenizer, _ = train_tokenizer(TEXTS * 3, vocab_size=1000, min_frequency=1)
    settings = encoder_settings(**{**TINY_ENCODER, **overrides})
    return SparseEncoder(
        new_masked_lm(tokenizer, TINY), tokenizer, settings, compute_idf(tokenizer, TEXTS, settings.max_length)
    )


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Run the body from `path`, as a stage or the CLI runs from the project root (contextlib.chdir is 3.11+)."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`nsparse ARGS` run from `cwd` inside this process: the CLI's own parsing, exit code and output,
    without paying a fresh interpreter's torch and transformers imports for every call."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with working_directory(cwd), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse: --help and usage errors
            code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    return subprocess.CompletedProcess(["nsparse", *args], code, stdout.getvalue(), stderr.getvalue())


def run_cli_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The console script's entry point, run as a separate process the way a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "nsparse.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def run_stage(name: str, cwd: Path, *args: str) -> None:
    """`python -m stages.NAME ARGS` as DVC runs it, inside this process, from `cwd` (which holds params.yaml)."""
    with working_directory(cwd):
        importlib.import_module(f"stages.{name}").main(*args)


CONCEPTS = [("파일", "file"), ("셀", "cell"), ("표", "table"), ("메뉴", "menu"), ("차트", "chart")]


def parallel_corpus(paragraphs: int = 40, seed: int = 0) -> list[tuple[str, str]]:
    """Help-text-like aligned paragraphs, each naming two concepts in both languages."""
    rng = random.Random(seed)
    corpus = []
    for _ in range(paragraphs):
        (ko1, en1), (ko2, en2) = rng.sample(CONCEPTS, 2)
        corpus.append((f"{ko1} 열기 및 {ko2} 선택.", f"Open the {en1} and select the {en2}."))
    return corpus


SYNTH_CORPUS = {
    "d1": {
        "title": "서울",
        "text": "서울은 대한민국의 수도이다. 한강이 도시를 가로지른다. 인구는 약 천만 명이다. "
        "경복궁과 남산타워가 있다.",
    },
    "d2": {
        "title": "부산",
        "text": "부산은 대한민국 제2의 도시이다. 해운대 해수욕장이 유명하다. 부산항은 큰 항구이다. 자갈치 시장이 있다.",
    },
    "d3": {
        "title": "제주",
        "text": "제주도는 화산섬이다. 한라산이 섬 가운데에 있다. 귤이 특산물이다. 올레길을 걷는 관광객이 많다.",
    },
    "d4": {
        "title": "광주",
        "text": "광주는 호남 지방의 중심 도시이다. 무등산이 도시 동쪽에 있다. 비엔날레 미술 전시가 열린다.",
    },
}


def synthesize_params(**overrides: Any) -> Synthesize:
    """The project's `synthesize:` params with prompt paths that work from any folder, and `overrides` laid over."""
    section = PARAMS.synthesize
    prompts = {kind: str(ROOT / path) for kind, path in section.prompts.model_dump().items()}
    return section.merged({"prompts": prompts, **overrides})


def llm_params(**overrides: Any) -> Llm:
    """The project's `llm:` params with `overrides` laid over (e.g. another back end or model)."""
    return PARAMS.llm.merged(overrides)


def params_yaml() -> dict[str, Any]:
    """params.yaml as plain YAML data: what a test edits and writes for a stage it runs in another folder."""
    return yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))


def run_verify_stage(tmp_path: Path, llm: dict, verify: dict) -> Path:
    """`stages.verify` run in `tmp_path` on a small aligned corpus, with `llm` and `verify` params overridden."""
    rows = [{"id": str(index), "ko": ko, "en": en} for index, (ko, en) in enumerate(parallel_corpus(60))]
    write_jsonl(tmp_path / "data/parallel/libreoffice.jsonl", rows)
    dictionaries = {"seed": CONCEPTS[:2], "heldout": CONCEPTS[2:4], "codeswitch": [("학교", "school")]}
    for name, pairs in dictionaries.items():
        (tmp_path / f"data/dict/{name}.tsv").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f"data/dict/{name}.tsv").write_text("".join(f"{ko}\t{en}\n" for ko, en in pairs), encoding="utf-8")
    corpus = [{"_id": "d1", "title": "", "text": "파일 메뉴에서 차트를 삽입합니다. 차트 서식을 바꿉니다."}]
    write_jsonl(tmp_path / "data/benchmarks/demo/corpus.jsonl", corpus)
    params = params_yaml()
    params["llm"].update(llm)
    params["verify"].update(verify, max_document_ratio=0.9, propose_from=["demo"])
    params["verify"]["prompts"] = {kind: str(ROOT / path) for kind, path in params["verify"]["prompts"].items()}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    run_stage("verify", tmp_path)
    return tmp_path


PARALLEL = [
    ("서울", "seoul"),
    ("수도", "capital"),
    ("서울은 수도", "seoul capital"),
    ("부산", "busan"),
    ("김치", "kimchi"),
    ("부산 도시", "busan city"),
    ("도시", "city"),
] * 3


def export_tiny_variant(folder: Path) -> tuple[Path, Path]:
    """A tiny encoder of the default shape (lexical floor, translations, learned part on) and its real export."""
    tokenizer, stops = train_tokenizer(TEXTS * 3 + [text for pair in PARALLEL for text in pair], 600, 1)
    torch.manual_seed(0)
    mlm = new_masked_lm(tokenizer, TINY)
    settings = encoder_settings(prune_ratio=0.0, max_length=128, passage_overlap=32, query_max_length=16, window=16)
    encoder = SparseEncoder(mlm, tokenizer, settings, stop_pieces=stops)
    silent = set(torch.nonzero(encoder.silent_tokens).flatten().tolist())
    translation = PARAMS.train.lexical.translation
    encoder.set_translations(
        learn_translation_table(
            tokenizer,
            PARALLEL,
            silent,
            translation.merged({"min_count": 1, "min_probability": 0.2, "max_document_ratio": 1.0}),
        )
    )
    encoder.fit_lexical_statistics(TEXTS)
    with torch.no_grad():
        encoder.gate.fill_(0.3)
    encoder.encode_queries(
        ["대한민국의 수도"]
    )  # leaves the tokenizer's truncation at the query length, as training does
    encoder.save(folder / "model")
    docs = {f"d{i}": {"title": "", "text": text} for i, text in enumerate(TEXTS)}
    subset = capped_validation_set(Benchmark(docs, {"q0": "대한민국의 수도"}, {"q0": {"d0": 1}}), 5, 1, seed=0)
    export = PARAMS.export.merged({"quantize": False})
    export_variant(folder / "model", folder / "export", TEXTS, subset, export)
    return folder / "model", folder / "export"


def run_synthesize_stage(tmp_path: Path, llm: dict) -> dict:
    """`stages.synthesize` in `tmp_path` over SYNTH_CORPUS with the `llm` params overridden; its report."""
    write_jsonl(
        tmp_path / "data/benchmarks/demo/corpus.jsonl", [{"_id": key, **doc} for key, doc in SYNTH_CORPUS.items()]
    )
    stage_params = params_yaml()
    stage_params["llm"].update(llm)
    stage_params["synthesize"].update(corpora=["demo"], prompts=synthesize_params().prompts.model_dump())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(stage_params, allow_unicode=True), encoding="utf-8")
    run_stage("synthesize", tmp_path)
    return json.loads((tmp_path / "reports/synthesis.json").read_text(encoding="utf-8"))
