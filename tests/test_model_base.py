"""The offline base model (tokenizer + MLM pre-training) and the `base` stage's pretrained shortcut."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml

from helpers import PARAMS, TEXTS
from nsparse.model.base import build_base_model, masked_lm_loss, new_masked_lm
from nsparse.model.encoder import SparseEncoder
from nsparse.model.vocabulary import train_tokenizer
from stages import base as base_stage


def test_masked_lm_loss_matches_full_vocabulary_loss() -> None:
    torch.manual_seed(0)
    tokenizer, _ = train_tokenizer(TEXTS * 3, vocab_size=1000, min_frequency=1)
    tiny = {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32, "max_length": 32}
    model = new_masked_lm(tokenizer, PARAMS.base.merged({**tiny, "block_length": 16})).eval()
    input_ids = tokenizer(TEXTS[:2], padding="max_length", max_length=12, truncation=True, return_tensors="pt")[
        "input_ids"
    ]
    labels = torch.full_like(input_ids, -100)
    labels[:, 2:5] = input_ids[:, 2:5]
    full = model(input_ids=input_ids, labels=labels).loss
    assert torch.allclose(masked_lm_loss(model, input_ids, labels), full, atol=1e-6)


def test_build_base_model_saves_a_loadable_masked_lm(tmp_path) -> None:
    text = tmp_path / "text.txt"
    text.write_text("\n".join(TEXTS * 20), encoding="utf-8")
    settings = PARAMS.base.merged(
        {
            "vocab_size": 300,
            "min_frequency": 1,
            "hidden_size": 16,
            "num_layers": 1,
            "num_heads": 2,
            "intermediate_size": 32,
            "max_length": 32,
            "block_length": 16,
            "batch_size": 4,
            "steps": 3,
            "learning_rate": 5e-4,
        }
    )
    figures = build_base_model(text, tmp_path / "base", settings, PARAMS.seed, pretrain=True)
    assert figures["steps"] == 3 and figures["vocab_size"] <= 300
    assert set(figures["timings_s"]) == {"tokenizer", "total"}  # the stage writes these apart from training.json
    encoder = SparseEncoder.load(tmp_path / "base")  # a plain MLM: no idf.json, so a bi-encoder
    assert encoder.settings.mode == "bi-encoder" and encoder.encode_documents(TEXTS[:2]).shape[0] == 2


def test_without_pretraining_the_base_is_the_vocabulary_alone(tmp_path) -> None:
    """The default (no learned part): tokenizer and stop pieces, no masked LM built or saved."""
    text = tmp_path / "text.txt"
    text.write_text("\n".join(TEXTS * 20), encoding="utf-8")
    settings = PARAMS.base.merged({"vocab_size": 300, "min_frequency": 1})
    figures = build_base_model(text, tmp_path / "base", settings, PARAMS.seed, pretrain=False)
    assert "parameters" not in figures and figures["vocab_size"] <= 300
    saved = {path.name for path in (tmp_path / "base").iterdir()}
    assert "tokenizer.json" in saved and "stop_pieces.json" in saved
    assert not saved & {"config.json", "model.safetensors"}
    encoder = SparseEncoder.load(tmp_path / "base", **PARAMS.train.encoder.model_dump(), **PARAMS.bm25.model_dump())
    assert encoder.mlm is None and not encoder.has_transformer()
    assert encoder.encode_documents(TEXTS[:2]).shape == (2, len(encoder.vocab))


def test_base_stage_only_records_a_pretrained_model(tmp_path, monkeypatch) -> None:
    hub_id = "opensearch-project/opensearch-neural-sparse-encoding-multilingual-v1"
    params = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text(encoding="utf-8"))
    params["base"]["pretrained"] = hub_id
    params["paths"].update(base=str(tmp_path / "base"), pretrain=str(tmp_path / "missing"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr("nsparse.config.PARAMS_FILE", tmp_path / "params.yaml")
    base_stage.main()
    assert json.loads((tmp_path / "base" / "source.json").read_text())["model"] == hub_id
    assert sorted(path.name for path in (tmp_path / "base").iterdir()) == ["source.json"]
