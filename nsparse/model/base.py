"""The offline base model: a Korean-aware WordPiece tokenizer and a small BERT masked LM trained from scratch.

No pretrained checkpoint can be downloaded on the build machines, so the embedded
default learns its own. The vocabulary follows kiwipiepy's morpheme boundaries
(`nsparse.model.vocabulary`) but is applied as a plain WordPiece `tokenizer.json`:
OpenSearch tokenizes queries with that file alone, so no analyser may be needed at
query time.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import (
    BertConfig,
    BertForMaskedLM,
    DataCollatorForLanguageModeling,
    PreTrainedTokenizerFast,
    get_linear_schedule_with_warmup,
)

from nsparse.model.vocabulary import save_stop_pieces, train_tokenizer
from nsparse.params import Base


def read_lines(path: str | os.PathLike[str]) -> list[str]:
    """Non-empty lines of a UTF-8 text file; an unreadable file names itself and the line."""
    lines = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if "\x00" in line:
                raise ValueError(f"{path}:{number}: NUL byte in pre-training text")
            if line.strip():
                lines.append(line.strip())
    if not lines:
        raise ValueError(f"{path}: no text to train on")
    return lines


def vocabulary_lines(lines: Sequence[str], texts: Sequence[str]) -> list[str]:
    """The distinct lines the vocabulary is learned on: the pre-training text, then `texts` on one line each."""
    return list(dict.fromkeys([*lines, *(" ".join(text.split()) for text in texts)]))


def new_masked_lm(tokenizer: PreTrainedTokenizerFast, settings: Base) -> BertForMaskedLM:
    """A randomly initialised BERT masked LM sized by params.yaml's `base:`, its vocabulary the tokenizer's."""
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=settings.hidden_size,
        num_hidden_layers=settings.num_layers,
        num_attention_heads=settings.num_heads,
        intermediate_size=settings.intermediate_size,
        max_position_embeddings=settings.max_length,
        pad_token_id=tokenizer.pad_token_id,
    )
    return BertForMaskedLM(config)


def pack_blocks(tokenizer: PreTrainedTokenizerFast, lines: list[str], block_length: int) -> torch.Tensor:
    """Concatenate all token ids and cut them into [CLS] ... [SEP] blocks of `block_length`."""
    body = block_length - 2
    ids = [
        token
        for encoding in tokenizer(lines, add_special_tokens=False, verbose=False)["input_ids"]
        for token in encoding
    ]
    usable = len(ids) // body * body
    if usable == 0:
        raise ValueError(f"pre-training text has {len(ids)} tokens, fewer than one block of {body}")
    blocks = torch.tensor(ids[:usable], dtype=torch.long).view(-1, body)
    edges = torch.full((blocks.shape[0], 1), 0, dtype=torch.long)
    return torch.cat([edges + tokenizer.cls_token_id, blocks, edges + tokenizer.sep_token_id], dim=1)


def shuffled_batches(count: int, batch_size: int) -> Iterator[torch.Tensor]:
    """Endless full batches of row indices, reshuffled (by torch's seeded RNG) every epoch."""
    while True:
        order = torch.randperm(count)
        for start in range(0, count - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def masked_lm_loss(model: BertForMaskedLM, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """MLM loss computing the vocabulary projection only at masked positions (~7x less work)."""
    hidden = model.bert(input_ids=input_ids).last_hidden_state
    selected = labels != -100
    logits = model.cls(hidden[selected])
    return torch.nn.functional.cross_entropy(logits, labels[selected])


def build_base_model(
    text_path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    settings: Base,
    seed: int,
    pretrain: bool,
    vocabulary_texts: Sequence[str] = (),
) -> dict[str, float]:
    """Train the tokenizer and (`pretrain`) pre-train the masked LM; save them to `output_dir`; return figures.

    The vocabulary is learned on the pre-training text and `vocabulary_texts` (the documents of the corpora the
    model indexes, so that their names and nouns are whole pieces); the masked LM pre-trains on the text alone.

    Without `pretrain` no masked LM is built or saved: an encoder whose learned part is off never runs one (its
    vectors are the lexical floor), so its weights would be 48 MB in every model folder and buy nothing.
    """
    seed_everything(seed)
    started = time.perf_counter()
    lines = read_lines(text_path)
    vocabulary = vocabulary_lines(lines, vocabulary_texts)
    tokenizer, stop_pieces = train_tokenizer(vocabulary, settings.vocab_size, settings.min_frequency)
    tokenizer.model_max_length = settings.max_length
    tokenizer_seconds = time.perf_counter() - started
    output = Path(output_dir)
    figures: dict = {
        "lines": len(lines),
        "vocabulary_lines": len(vocabulary),
        "vocab_size": len(tokenizer),
        "stop_pieces": len(stop_pieces),
    }
    if pretrain:
        model, pretraining = pretrain_masked_lm(tokenizer, lines, settings)
        model.save_pretrained(output)
        figures.update(pretraining)
    tokenizer.save_pretrained(output)
    save_stop_pieces(output, stop_pieces)
    figures["timings_s"] = {"tokenizer": tokenizer_seconds, "total": time.perf_counter() - started}
    return figures


def pretrain_masked_lm(
    tokenizer: PreTrainedTokenizerFast, lines: Sequence[str], settings: Base
) -> tuple[BertForMaskedLM, dict]:
    """A masked LM of `settings`' shape, pre-trained on `lines` for `settings.steps`; and its figures."""
    blocks = pack_blocks(tokenizer, list(lines), settings.block_length)
    model = new_masked_lm(tokenizer, settings)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=settings.mask_probability)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.01)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(settings.warmup_ratio * settings.steps), settings.steps)
    batches = shuffled_batches(blocks.shape[0], settings.batch_size)
    model.train()
    losses = []
    progress = tqdm(range(settings.steps), desc="pre-train MLM", unit="step", mininterval=10)
    for _ in progress:
        batch = collator([{"input_ids": row} for row in blocks[next(batches)]])
        loss = masked_lm_loss(model, batch["input_ids"], batch["labels"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        progress.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", refresh=False)
    return model, {
        "blocks": int(blocks.shape[0]),
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "steps": settings.steps,
        "epochs": settings.steps * settings.batch_size / blocks.shape[0],
        "final_loss": float(np.mean(losses[-20:])),
    }
