"""Training: losses, resume after interruption, best-checkpoint publishing, validation subset."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from helpers import PARAMS, encoder_settings
from nsparse.data import Benchmark
from nsparse.model.base import new_masked_lm
from nsparse.model.encoder import SparseEncoder, compute_idf
from nsparse.model.vocabulary import train_tokenizer
from nsparse.train.losses import distillation, flops, info_nce, quadratic_warmup
from nsparse.train.setup import truncate_live_history
from nsparse.train.trainer import CHECKPOINT_FILE, COMPLETED_FILE, RunPaths, Trainer
from nsparse.train.validation import capped_validation_set, validate

DOCS = [
    "서울은 대한민국의 수도이다.",
    "부산은 항구 도시이다.",
    "김치는 한국의 전통 음식이다.",
    "Seoul is the capital of Korea.",
    "한강은 서울을 흐른다.",
    "제주도는 섬이다.",
    "기차로 세 시간이 걸린다.",
    "비빔밥은 밥과 나물을 섞은 음식이다.",
]
QUERIES = ["한국의 수도", "항구 도시", "전통 음식", "capital of Korea", "서울의 강", "섬", "기차 시간", "비빔밥"]
PAIRS = [
    {
        "query": query,
        "positive": doc,
        "negatives": [DOCS[(i + 3) % len(DOCS)], DOCS[(i + 5) % len(DOCS)]],
        "source": "test",
    }
    for i, (query, doc) in enumerate(zip(QUERIES, DOCS))
]
# params.yaml's `train:` cut to a few steps of a few pairs, the transformer learning too.
TRAIN = PARAMS.train.merged(
    {
        "objective": {"learned_part": True, "flops_weight": 1e-3, "query_flops_weight": 1e-3, "flops_warmup_steps": 2},
        "optimizer": {
            "steps": 4,
            "batch_size": 4,
            "negatives_per_query": 1,
            "accumulation_steps": 2,
            "learning_rate": 1e-3,
            "idf_learning_rate": 1e-3,
            "warmup_ratio": 0.25,
        },
        "schedule": {"checkpoint_every": 2, "validate_every": 2, "log_every": 1},
    }
)
SEED = PARAMS.seed
TINY = PARAMS.base.merged(
    {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32, "max_length": 32, "block_length": 32}
)


# One tokenizer for every encoder of a test: on a corpus this small, WordPiece's learned
# vocabulary itself can differ between trainings (tied pieces), which would reorder the IDF.
TOKENIZER, _ = train_tokenizer(DOCS * 3 + QUERIES, vocab_size=1000, min_frequency=1)


def tiny_encoder(mode: str = "inference-free") -> SparseEncoder:
    torch.manual_seed(0)
    tokenizer = TOKENIZER
    settings = encoder_settings(
        mode=mode,
        lexical_floor=False,
        prune_ratio=0.0,
        max_length=32,
        query_max_length=16,
        passage_overlap=None,
        window=None,
    )
    return SparseEncoder(new_masked_lm(tokenizer, TINY), tokenizer, settings, compute_idf(tokenizer, DOCS, 32))


def benchmark() -> Benchmark:
    return Benchmark(
        corpus={f"d{i}": {"title": "", "text": doc} for i, doc in enumerate(DOCS)},
        queries={f"q{i}": query for i, query in enumerate(QUERIES)},
        qrels={f"q{i}": {f"d{i}": 1} for i in range(len(QUERIES))},
    )


def test_info_nce_prefers_the_positive() -> None:
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    right = torch.tensor([[5.0, 0.0], [0.0, 5.0], [1.0, 1.0]])
    wrong = torch.tensor([[0.0, 5.0], [5.0, 0.0], [1.0, 1.0]])
    assert info_nce(queries, right, 1.0) < 0.05 < info_nce(queries, wrong, 1.0)


def test_flops_and_l0_mask() -> None:
    vectors = torch.tensor([[1.0, 1.0, 0.0], [2.0, 0.0, 0.0]])
    assert flops(vectors, None).item() == pytest.approx(1.5**2 + 0.5**2)
    # with an l0 threshold of 1 only the first vector (2 terms) is regularised
    assert flops(vectors, l0_threshold=1).item() == pytest.approx(0.5**2 + 0.5**2)


def test_quadratic_warmup() -> None:
    assert [quadratic_warmup(step, 4.0, 4) for step in (0, 2, 4, 8)] == [0.0, 1.0, 4.0, 4.0]


def test_distillation_losses_vanish_when_student_matches_teacher() -> None:
    teacher = torch.tensor([[3.0, 1.0, 0.0]])
    valid = torch.tensor([[True, True, False]])
    for kind in ("kl", "margin_mse"):
        assert distillation(teacher.clone(), teacher, valid, kind, 1.0).item() == pytest.approx(0.0, abs=1e-6)
        assert distillation(torch.tensor([[0.0, 3.0, 9.0]]), teacher, valid, kind, 1.0).item() > 0.1


def run_paths(root) -> RunPaths:
    return RunPaths(model_dir=root / "model", checkpoint_dir=root / "checkpoints")


def test_resumed_run_equals_uninterrupted_run(tmp_path) -> None:
    validation = {"toy": capped_validation_set(benchmark(), max_docs=8, max_queries=8, seed=0)}
    straight = Trainer(tiny_encoder(), PAIRS, TRAIN, SEED, run_paths(tmp_path / "a"), validation)
    straight.run()

    interrupted = Trainer(tiny_encoder(), PAIRS, TRAIN, SEED, run_paths(tmp_path / "b"), validation)
    interrupted.run(stop_after=2)
    assert (tmp_path / "b" / "checkpoints" / CHECKPOINT_FILE).exists() and not (tmp_path / "b" / "model").exists()
    torch.manual_seed(1234)  # a fresh process would have another RNG state: resume must restore it
    resumed = Trainer(tiny_encoder(), PAIRS, TRAIN, SEED, run_paths(tmp_path / "b"), validation)
    assert resumed.resume() and resumed.step == 2
    resumed.run()

    for (name, a), b in zip(straight.encoder.state_dict().items(), resumed.encoder.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name
    learned = straight.encoder.query_weights()
    assert straight.encoder.idf_log_scale.requires_grad and not torch.equal(learned, tiny_encoder().query_weights())
    assert straight.best == resumed.best
    # finished: the best model is published, the checkpoint retired
    assert SparseEncoder.load(tmp_path / "b" / "model").settings.mode == "inference-free"
    assert not (tmp_path / "b" / "checkpoints" / CHECKPOINT_FILE).exists()
    completed = [(tmp_path / run / "checkpoints" / COMPLETED_FILE).read_bytes() for run in ("a", "b")]
    assert json.loads(completed[1])["steps"] == 4
    assert completed[0] == completed[1]  # no wall-clock time inside: the same run writes the same bytes


def test_checkpoint_of_another_configuration_is_not_resumed(tmp_path) -> None:
    Trainer(tiny_encoder(), PAIRS, TRAIN, SEED, run_paths(tmp_path), fingerprint="one").run(stop_after=2)
    assert not Trainer(tiny_encoder(), PAIRS, TRAIN, SEED, run_paths(tmp_path), fingerprint="two").resume()
    assert Trainer(tiny_encoder(), PAIRS, TRAIN, SEED, run_paths(tmp_path), fingerprint="one").resume()


def test_bi_encoder_with_distillation_trains(tmp_path) -> None:
    pairs = [{**pair, "teacher_scores": [3.0, 1.0, 0.5]} for pair in PAIRS]
    train = TRAIN.merged(  # a bi-encoder has no IDF to re-weight
        {
            "encoder": {"mode": "bi-encoder"},
            "objective": {"train_idf": False, "l0_threshold": 5.0},
            "distillation": {"method": "margin_mse"},
        }
    )
    logged: list[dict[str, float]] = []
    trainer = Trainer(
        tiny_encoder("bi-encoder"),
        pairs,
        train,
        SEED,
        run_paths(tmp_path),
        logger=lambda metrics, step: logged.append(metrics),
    )
    trainer.run()
    assert {"train/distill", "train/flops_query", "train/ranking"} <= set(logged[-1])
    assert (tmp_path / "model" / "nsparse.json").exists()


def test_validation_averages_benchmarks_and_encodes_a_shared_corpus_once(monkeypatch) -> None:
    encoder = tiny_encoder()
    subset = capped_validation_set(benchmark(), max_docs=8, max_queries=8, seed=0)
    single = validate(encoder, {"one": subset})
    calls = []
    real_encode = encoder.encode_documents
    monkeypatch.setattr(
        encoder, "encode_documents", lambda *args, **kwargs: calls.append(1) or real_encode(*args, **kwargs)
    )
    reordered = dataclasses.replace(subset, doc_ids=subset.doc_ids[::-1], doc_texts=subset.doc_texts[::-1])
    double = validate(encoder, {"ko": subset, "en2ko": subset, "codeswitch": reordered})
    assert len(calls) == 1  # one corpus (in two orders), three query sets
    assert double["ndcg@10"] == pytest.approx(single["ndcg@10"]) == pytest.approx(double["en2ko/ndcg@10"])
    assert double["codeswitch/ndcg@10"] == pytest.approx(single["ndcg@10"])
    assert set(double) >= {"ko/ndcg@10", "en2ko/mrr@10", "doc_nnz"}


def test_validation_subset_keeps_judged_documents() -> None:
    subset = capped_validation_set(benchmark(), max_docs=5, max_queries=3, seed=0)
    assert len(subset.query_ids) == 3 and len(subset.doc_ids) == 5
    judged = {doc for query in subset.query_ids for doc in subset.qrels[query]}
    assert judged <= set(subset.doc_ids)


def test_training_learns_to_rank_the_positive(tmp_path) -> None:
    train = TRAIN.merged(
        {
            "objective": {"flops_weight": 0.0},
            "optimizer": {
                "steps": 30,
                "accumulation_steps": 1,
                "learning_rate": 3e-3,
                "warmup_ratio": 0.0,
                "batch_size": 8,
            },
        }
    )
    logged: list[dict[str, float]] = []
    Trainer(
        tiny_encoder(), PAIRS, train, SEED, run_paths(tmp_path), logger=lambda metrics, step: logged.append(metrics)
    ).run()
    first, last = logged[0]["train/ranking"], logged[-1]["train/ranking"]
    assert last < 0.75 * first, (first, last)


def test_finish_after_a_crash_keeps_the_published_model(tmp_path) -> None:
    """A crash after publishing but before retiring last.pt: the rerun keeps models/<v>, never deletes it."""
    trainer = Trainer(tiny_encoder(), PAIRS, TRAIN, SEED, run_paths(tmp_path))
    trainer.run()
    published = sorted(path.name for path in (tmp_path / "model").iterdir())
    trainer.save_checkpoint()  # the state a crash inside finish() leaves: last.pt at the final step
    rerun = Trainer(tiny_encoder(), PAIRS, TRAIN, SEED, run_paths(tmp_path))
    assert rerun.resume() and rerun.step == TRAIN.optimizer.steps
    rerun.run()
    assert sorted(path.name for path in (tmp_path / "model").iterdir()) == published
    assert not (tmp_path / "checkpoints" / CHECKPOINT_FILE).exists()


def test_resume_truncates_the_killed_runs_dvclive_rows(tmp_path) -> None:
    table = tmp_path / "plots" / "metrics" / "train" / "loss.tsv"
    table.parent.mkdir(parents=True)
    table.write_text("timestamp\tstep\tloss\n1\t5\t0.9\n2\t10\t0.8\n3\t15\t0.7\n", encoding="utf-8")
    assert truncate_live_history(tmp_path, 10) == 1
    assert table.read_text(encoding="utf-8").splitlines()[-1] == "2\t10\t0.8"


def test_floor_model_learns_only_its_query_weights(tmp_path) -> None:
    """learned_part off: the transformer and the gate stay as they were, the IDF re-weighting learns to rank."""
    torch.manual_seed(0)
    settings = encoder_settings(prune_ratio=0.0, max_length=32, query_max_length=16, passage_overlap=None, window=None)
    encoder = SparseEncoder(new_masked_lm(TOKENIZER, TINY), TOKENIZER, settings)
    encoder.fit_lexical_statistics(DOCS)
    before = {name: value.clone() for name, value in encoder.mlm.state_dict().items()}
    start = encoder.query_weights().clone()
    train = TRAIN.merged(
        {
            "objective": {"learned_part": False},
            "optimizer": {
                "steps": 30,
                "accumulation_steps": 1,
                "idf_learning_rate": 5e-2,
                "warmup_ratio": 0.0,
                "batch_size": 8,
            },
        }
    )
    logged: list[dict[str, float]] = []
    Trainer(encoder, PAIRS, train, SEED, run_paths(tmp_path), logger=lambda metrics, step: logged.append(metrics)).run()
    assert logged[-1]["train/ranking"] < logged[0]["train/ranking"]
    assert encoder.gate.item() == 0.0 and not encoder.gate.requires_grad
    assert all(torch.equal(before[name], value) for name, value in encoder.mlm.state_dict().items())
    assert not torch.equal(encoder.query_weights(), start)
    assert "train/idf_prior" in logged[-1]
    saved = SparseEncoder.load(tmp_path / "model")  # the learned weights are what idf.json ships
    assert torch.allclose(
        saved.query_weights()[saved.query_weights() > 1e-5],
        encoder.query_weights()[saved.query_weights() > 1e-5],
        rtol=1e-5,
    )
