"""Gemma 3 270M (base, GGUF Q4_K_M) through the llama_cpp back end on this machine -> reports/gemma_probe.json.

What it measures, with the pipeline's own code paths (`make_generator`, `LLMSynthesis`, `ScoringVerifier`):
  * doc -> query on `--documents` Korean msmarco passages (the shared msmarco-kor file, never its queries):
    documents per minute, llama.cpp's prompt and generated tokens/s, the queries written (all of them);
  * the same seed twice in one process gives the same text (a fresh process: tests/test_llm_gemma.py);
  * synonym verification by scoring, on seed-split pairs against the same Korean words paired with another
    pair's English word (AUC): the verifier's P(English word | Korean word) under a few-shot translation prompt,
    against a yes/no question scored as P(" 예") / (P(" 예") + P(" 아니오")) (the rejected alternative);
  * peak resident memory of the process and the load average around the run (the CPUs are shared).

Needs `nsparse[llama]` and `nsparse[gemma]`, and v1's training pairs and seed dictionary (the `prepare` stage):
  python scripts/gemma_probe.py [--data data] [--documents 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from nsparse.config import load_params
from nsparse.dictionary import read_dictionary
from nsparse.io import read_json, write_json
from nsparse.llm import Generator, PromptTemplate, make_generator
from nsparse.llm.fewshot import (
    FewShotPrompt,
    translation_prompt,
    translation_shots,
)
from nsparse.pipeline.synthesize import base_model_prompt
from nsparse.synonyms.verification import ScoringVerifier
from nsparse.synth.filters import Candidate
from nsparse.synth.generate import LLMSynthesis

MSMARCO_KOR = Path("/work/shared/data/msmarco-kor/msmarco_kor.json")


def sample_passages(path: Path, count: int, seed: int, exclude: set[str]) -> dict[str, str]:
    records = read_json(path)
    passages = sorted({" ".join(text.split()) for record in records for text in record["positive"]} - exclude)
    return {f"msmarco-kor/{index}": text for index, text in enumerate(random.Random(seed).sample(passages, count))}


def judgement_prompt(shots: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> FewShotPrompt:
    """Yes/no examples: each shot as it is (예) and with the next shot's word (아니오), in a seeded shuffled order."""
    cases = []
    for index, (ko, en) in enumerate(shots):
        cases += [(f"{ko} = {en}", "예"), (f"{ko} = {shots[(index + 1) % len(shots)][1]}", "아니오")]
    random.Random(0).shuffle(cases)
    return FewShotPrompt("한국어 단어와 영어 단어가 같은 뜻인가?", ("단어", "답"), tuple(cases))


def yes_probability(generator: Generator, prompt: FewShotPrompt, ko: str, en: str) -> float:
    text = prompt.prompt(f"{ko} = {en}")
    yes, no = generator.logprob(text, " 예"), generator.logprob(text, " 아니오")
    return 1.0 / (1.0 + math.exp(min(no - yes, 700.0)))


def auc(positives: list[float], negatives: list[float]) -> float:
    """P(a true pair outscores a false one), ties counted half."""
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data"), help="the prepare stage's data folder")
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=40, help="seed pairs scored (and as many false ones)")
    parser.add_argument("--out", type=Path, default=Path("reports/gemma_probe.json"))
    arguments = parser.parse_args()
    params = load_params()
    seed, settings = params.seed, params.synthesize
    load_before = os.getloadavg()

    started = time.perf_counter()
    llm = params.llm.merged(
        {
            "backend": "llama_cpp",
            "model": "gemma3-270m",
            "n_threads": arguments.threads,
            "n_ctx": 2048,
            "n_gpu_layers": 0,
            "max_new_tokens": 48,
        }
    )
    generator = make_generator(llm, seed=seed)
    assert generator is not None and not generator.chat
    load_s = time.perf_counter() - started

    fewshot = base_model_prompt(
        arguments.data / "train/pairs.jsonl",
        arguments.data / "benchmarks",
        settings.fewshot_shots,
        seed,
        settings.filters.min_hangul_ratio,
    )
    shots = fewshot.shots
    documents = sample_passages(MSMARCO_KOR, arguments.documents, seed, {passage for passage, _ in shots})

    def synthesis(cache: str) -> LLMSynthesis:
        return LLMSynthesis(
            generator,
            PromptTemplate.load(settings.prompts.queries),  # chat models' prompts: unused by a base model
            PromptTemplate.load(settings.prompts.paraphrases),
            queries_per_document=settings.queries_per_document,
            paraphrases_per_query=0,
            max_document_chars=settings.max_document_chars,
            cache_dir=Path(cache),
            seed=seed,
            fewshot=fewshot,
        )

    def queries(candidates: list[Candidate]) -> dict[str, list[str]]:
        written: dict[str, list[str]] = {key: [] for key in documents}
        for candidate in candidates:
            written[candidate.doc_key].append(candidate.query)
        return written

    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        generation_started = time.perf_counter()
        written = queries(synthesis(first).candidates(documents)[0])
        generation_s = time.perf_counter() - generation_started
        perf = {**generator.provenance()["llama_perf"], **generator.throughput()["llama_perf"]}
        again = queries(synthesis(second).candidates(dict(list(documents.items())[:3]))[0])
    same_text = all(again[key] == written[key] for key in list(documents)[:3])

    seed_dictionary = read_dictionary(arguments.data / "dict/seed.tsv")
    judge_shots = translation_shots(seed_dictionary, params.verify.fewshot_shots, 0)
    verifier = ScoringVerifier(generator, translation_prompt(judge_shots), params.verify.threshold, seed=0)
    yes_no = judgement_prompt(judge_shots)
    shown = {ko for ko, _ in judge_shots}
    pool = sorted((ko, words[0]) for ko, words in seed_dictionary.items() if ko not in shown and len(ko) > 1)
    true_pairs = random.Random(seed).sample(pool, arguments.pairs)
    false_pairs = [(ko, true_pairs[(index + 7) % len(true_pairs)][1]) for index, (ko, _) in enumerate(true_pairs)]
    scoring_started = time.perf_counter()
    true_scores = [verifier.confidence(ko, en) for ko, en in true_pairs]
    false_scores = [verifier.confidence(ko, en) for ko, en in false_pairs]
    scoring_s = time.perf_counter() - scoring_started
    true_yes = [yes_probability(generator, yes_no, ko, en) for ko, en in true_pairs]
    false_yes = [yes_probability(generator, yes_no, ko, en) for ko, en in false_pairs]
    proposals = verifier.propose({ko: "" for ko, _ in true_pairs[:10]})

    generated = sum(len(texts) for texts in written.values())
    report: dict[str, Any] = {
        "model": generator.provenance(),
        "machine": {
            "cpus": os.cpu_count(),
            "threads": arguments.threads,
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
            "note": "2 cores shared with other agents' jobs: figures are lower bounds for an idle machine",
        },
        "load_s": round(load_s, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "doc2query": {
            "documents": len(documents),
            "queries_per_document": settings.queries_per_document,
            "queries_written": generated,
            "seconds": round(generation_s, 2),
            "documents_per_minute": round(len(documents) / generation_s * 60, 1),
            "llama_perf": perf,
            "same_seed_same_text": same_text,
            "fewshot": fewshot.provenance(),
            "examples": [{"document": documents[key][:200], "queries": texts} for key, texts in written.items()],
        },
        "verification": {
            "method": "P(' <english>' + blank line | few-shot translation prompt ending in '영어:'), seed split",
            "true_pairs": len(true_pairs),
            "auc_true_vs_swapped": round(auc(true_scores, false_scores), 3),
            "mean_confidence": {
                "true": round(sum(true_scores) / len(true_scores), 3),
                "swapped": round(sum(false_scores) / len(false_scores), 3),
            },
            "passing": [
                {
                    "threshold": threshold,
                    "true": sum(score >= threshold for score in true_scores),
                    "swapped": sum(score >= threshold for score in false_scores),
                }
                for threshold in (0.01, 0.05, 0.1, 0.2, 0.5, verifier.threshold)
            ],
            "rejected_alternative_yes_no": {
                "method": "P(' 예') / (P(' 예') + P(' 아니오')) after a few-shot yes/no prompt (seed split)",
                "auc_true_vs_swapped": round(auc(true_yes, false_yes), 3),
                "mean_confidence": {
                    "true": round(sum(true_yes) / len(true_yes), 3),
                    "swapped": round(sum(false_yes) / len(false_yes), 3),
                },
            },
            "school": {
                "학교 = school": round(verifier.confidence("학교", "school"), 4),
                "학교 = banana": round(verifier.confidence("학교", "banana"), 4),
            },
            "pairs_scored_per_s": round(2 * len(true_pairs) / scoring_s, 2),
            "examples": [
                {"ko": ko, "en": en, "confidence": round(score, 3)}
                for (ko, en), score in list(zip(true_pairs, true_scores))[:8] + list(zip(false_pairs, false_scores))[:8]
            ],
            "proposals": [
                {"ko": ko, "expected": en, "proposed": [word for term, word in proposals if term == ko]}
                for ko, en in true_pairs[:10]
            ],
        },
    }
    write_json(arguments.out, report)
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
