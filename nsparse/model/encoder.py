"""SPLADE-style sparse encoder on any Hugging Face masked LM.

A document vector is the max over tokens of log(1 + ReLU(MLM logits)), with padded
positions masked out and special tokens zeroed: one non-negative weight per vocabulary
entry, most of them zero. In the default *inference-free* mode the query side is no
model at all: each distinct query token weighs its IDF (`idf.json`), which is exactly
what OpenSearch's SPARSE_TOKENIZE query models compute, so search costs what BM25 costs.
In *bi-encoder* mode the same model encodes both sides.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import AutoModelForMaskedLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from nsparse.io import atomic_open, write_json

Mode = Literal["inference-free", "bi-encoder"]
SETTINGS_FILE = "nsparse.json"
IDF_FILE = "idf.json"


@dataclass(frozen=True)
class EncoderSettings:
    """What, besides the weights, decides the vectors a saved encoder produces (`nsparse.json`)."""

    mode: Mode = "inference-free"
    prune_ratio: float = 0.0  # drop document weights below prune_ratio x the document's largest weight
    max_length: int = 256  # document tokens
    query_max_length: int = 64

    def __post_init__(self) -> None:
        if self.mode not in ("inference-free", "bi-encoder"):
            raise ValueError(f"mode must be 'inference-free' or 'bi-encoder', got {self.mode!r}")
        if not 0.0 <= self.prune_ratio < 1.0:
            raise ValueError(f"prune_ratio must be in [0, 1), got {self.prune_ratio}")


def splade_pool(logits: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[batch, seq, vocab] MLM logits -> [batch, vocab]: max over real tokens of log(1 + ReLU(logit))."""
    activations = torch.log1p(torch.relu(logits)) * attention_mask.unsqueeze(-1).to(logits.dtype)
    return activations.max(dim=1).values


def prune(weights: torch.Tensor, ratio: float) -> torch.Tensor:
    """Zero every weight below `ratio` times its row's maximum (a no-op for ratio 0)."""
    if ratio <= 0.0:
        return weights
    threshold = weights.max(dim=-1, keepdim=True).values * ratio
    return weights * (weights >= threshold).to(weights.dtype)


def encode_length_sorted(texts: Sequence[str], batch_size: int, encode_batch: Callable[[list[str]], np.ndarray],
                         width: int, progress: bool = False) -> sp.csr_matrix:
    """Encode texts in batches of similar length (little padding), returning rows in input order."""
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    rows = [sp.csr_matrix(encode_batch([texts[index] for index in order[start : start + batch_size]]))
            for start in tqdm(range(0, len(order), batch_size), desc="encode docs", unit="batch", disable=not progress)]
    if not rows:
        return sp.csr_matrix((0, width), dtype=np.float32)
    return sp.vstack(rows, format="csr")[np.argsort(order)]


def compute_idf(tokenizer: PreTrainedTokenizerBase, documents: Iterable[str], max_length: int = 512) -> dict[str, float]:
    """BM25-style IDF of every vocabulary token over `documents`; special tokens weigh 0.

    idf = ln(1 + (N - df + 0.5) / (df + 0.5)) is positive for every token, so an unseen
    query token still counts (rarest of all), as in BM25.
    """
    vocab_size = len(tokenizer)
    document_frequency = np.zeros(vocab_size, dtype=np.int64)
    count = 0
    for text in tqdm(documents, desc="idf", unit="doc", mininterval=5):
        ids = tokenizer(text, add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
        document_frequency[np.unique(np.asarray(ids, dtype=np.int64))] += 1
        count += 1
    if count == 0:
        raise ValueError("compute_idf: no documents")
    idf = np.log1p((count - document_frequency + 0.5) / (document_frequency + 0.5))
    idf[tokenizer.all_special_ids] = 0.0
    id_to_token = {index: token for token, index in tokenizer.get_vocab().items()}
    return {id_to_token[index]: float(idf[index]) for index in range(vocab_size)}


class SparseEncoder(nn.Module):
    """Masked LM + tokenizer + IDF vector; `forward` gives document vectors, the trainable path."""

    def __init__(
        self,
        mlm: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        settings: EncoderSettings = EncoderSettings(),
        idf: dict[str, float] | None = None,
        train_idf: bool = False,
    ) -> None:
        super().__init__()
        self.mlm = mlm
        self.tokenizer = tokenizer
        self.settings = settings
        vocab_size = mlm.config.vocab_size
        if len(tokenizer) > vocab_size:
            raise ValueError(f"tokenizer has {len(tokenizer)} tokens but the model only {vocab_size} outputs")
        self.vocab: list[str] = [""] * vocab_size
        for token, index in tokenizer.get_vocab().items():
            self.vocab[index] = token
        special = torch.zeros(vocab_size, dtype=torch.bool)
        special[tokenizer.all_special_ids] = True
        self.register_buffer("special_tokens", special, persistent=False)
        self.idf = nn.Parameter(torch.ones(vocab_size), requires_grad=train_idf)
        if idf is not None:
            self.set_idf(idf)

    @torch.no_grad()
    def set_idf(self, idf: dict[str, float]) -> None:
        """Query token weights from {token: weight}; tokens it lacks weigh 1, special tokens 0."""
        token_to_id = self.tokenizer.get_vocab()
        weights = torch.ones_like(self.idf)
        for token, weight in idf.items():
            if token in token_to_id:
                weights[token_to_id[token]] = weight
        self.idf.copy_(weights.masked_fill(self.special_tokens, 0.0))

    # --- tensors (training and export) -------------------------------------------
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Unpruned document vectors [batch, vocab] (pruning is an inference-time choice)."""
        logits = self.mlm(input_ids=input_ids, attention_mask=attention_mask).logits
        return splade_pool(logits, attention_mask).masked_fill(self.special_tokens, 0.0)

    def idf_query_vectors(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Inference-free query vectors: idf[token] for each distinct real token (differentiable in idf)."""
        present = torch.zeros(input_ids.shape[0], self.idf.shape[0], device=input_ids.device)
        present.scatter_(1, input_ids, attention_mask.to(present.dtype))
        return present.clamp(max=1.0) * torch.relu(self.idf)

    def query_vectors(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.settings.mode == "inference-free":
            return self.idf_query_vectors(input_ids, attention_mask)
        return self(input_ids, attention_mask)

    def tokenize(self, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        device = self.idf.device
        return {"input_ids": batch["input_ids"].to(device), "attention_mask": batch["attention_mask"].to(device)}

    # --- texts -> scipy CSR (evaluation, benchmarks) --------------------------------
    @torch.inference_mode()
    def encode_documents(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> sp.csr_matrix:
        """Pruned document vectors as CSR [n, vocab]."""
        was_training = self.training
        self.eval()

        def encode_batch(chunk: list[str]) -> np.ndarray:
            vectors = prune(self(**self.tokenize(chunk, self.settings.max_length)), self.settings.prune_ratio)
            return vectors.float().cpu().numpy()

        matrix = encode_length_sorted(texts, batch_size, encode_batch, len(self.vocab), progress)
        self.train(was_training)
        return matrix

    @torch.inference_mode()
    def encode_queries(self, texts: Sequence[str], batch_size: int = 64) -> sp.csr_matrix:
        """Query vectors as CSR [n, vocab]: IDF weights (inference-free) or the model (bi-encoder)."""
        was_training = self.training
        self.eval()

        def encode_batch(chunk: list[str]) -> np.ndarray:
            return self.query_vectors(**self.tokenize(chunk, self.settings.query_max_length)).float().cpu().numpy()

        matrix = encode_length_sorted(texts, batch_size, encode_batch, len(self.vocab))
        self.train(was_training)
        return matrix

    def to_token_weights(self, row: sp.spmatrix | np.ndarray) -> dict[str, float]:
        """One vector (a CSR row or a dense array) as {token: weight}, heaviest first."""
        if sp.issparse(row):
            coo = sp.coo_matrix(row)
            pairs = zip(coo.col.tolist(), coo.data.tolist())
        else:
            dense = np.asarray(row).ravel()
            nonzero = np.flatnonzero(dense)
            pairs = zip(nonzero.tolist(), dense[nonzero].tolist())
        return dict(sorted(((self.vocab[index], float(weight)) for index, weight in pairs if weight > 0),
                           key=lambda item: -item[1]))

    def idf_weights(self) -> dict[str, float]:
        return {token: float(weight) for token, weight in zip(self.vocab, torch.relu(self.idf).tolist()) if token}

    # --- persistence ------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Hugging Face format (weights, config, tokenizer.json) + idf.json + nsparse.json."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.mlm.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        with atomic_open(folder / IDF_FILE) as handle:
            json.dump(self.idf_weights(), handle, ensure_ascii=False)
        write_json(folder / SETTINGS_FILE, asdict(self.settings))

    @classmethod
    def load(cls, path_or_hub_id: str | os.PathLike[str], train_idf: bool = False, **overrides: object) -> SparseEncoder:
        """Load a saved encoder from a folder or a Hugging Face hub id.

        A hub model without `nsparse.json` (e.g. opensearch-project's doc-only models) is
        inference-free when it ships an `idf.json`, a bi-encoder otherwise. `overrides`
        replace saved settings (e.g. `prune_ratio=0.1`).
        """
        source = str(path_or_hub_id)
        mlm = AutoModelForMaskedLM.from_pretrained(source)
        tokenizer = AutoTokenizer.from_pretrained(source)
        idf = _read_optional_json(source, IDF_FILE)
        saved = _read_optional_json(source, SETTINGS_FILE)
        if saved is None:
            saved = {"mode": "inference-free" if idf is not None else "bi-encoder",
                     "max_length": min(512, getattr(tokenizer, "model_max_length", 512))}
        settings = EncoderSettings(**{**saved, **overrides})
        return cls(mlm, tokenizer, settings, idf, train_idf=train_idf)


def _read_optional_json(source: str, name: str) -> dict | None:
    """A JSON file beside the model: read locally, or fetched from the hub for a hub id."""
    local = Path(source)
    if local.is_dir():
        file = local / name
        return json.loads(file.read_text(encoding="utf-8")) if file.exists() else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return json.loads(Path(hf_hub_download(source, name)).read_text(encoding="utf-8"))
    except EntryNotFoundError:
        return None

