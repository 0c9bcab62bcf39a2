"""SPLADE-style sparse encoder on any Hugging Face masked LM, over a BM25 lexical floor.

The learned part of a document vector is the max over tokens of log(1 + ReLU(MLM
logits)), with padded positions masked out: one non-negative weight per vocabulary entry,
most of them zero. In the default *inference-free* mode the query side is no model at
all: each distinct query token weighs its IDF (`idf.json`), which is exactly what
OpenSearch's SPARSE_TOKENIZE query models compute, so search costs what BM25 costs. In
*bi-encoder* mode the same model encodes both sides.

With `lexical_floor` on (the default for models trained here), every token present in a
document also gets BM25's saturated term frequency, tf / (tf + k1 (1 - b + b dl/avgdl)),
so that against IDF query weights the untrained encoder scores exactly BM25 over its own
vocabulary; the learned part, scaled by a gate that starts at 0, can only add re-weighting
and expansion on top. A translation table (`nsparse.model.translation`) adds to each
token's term frequency the expected count of its translations, so a Korean document also
carries the English terms a user would type. Stop pieces (particles, endings) and special
tokens weigh nothing on either side.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import AutoModelForMaskedLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from nsparse.io import atomic_open, write_json
from nsparse.model.vocabulary import STOP_PIECES_FILE, save_stop_pieces

Mode = Literal["inference-free", "bi-encoder"]
SETTINGS_FILE = "nsparse.json"
IDF_FILE = "idf.json"
LEXICAL_FILE = "lexical.json"
# OpenSearch's neural_sparse query refuses a token weight of 0 ("weight must be in (0, 64]"),
# and ML Commons weighs a token missing from idf.json 1.0: stop pieces are written with this
# negligible weight instead (no document holds them, so scores do not change).
SILENT_QUERY_WEIGHT = 1e-6
# What a tokenizer of whole documents declares as its longest input (its `model_max_length`).
WHOLE_DOCUMENT_TOKENS = 1_000_000_000
# What an nsparse.json written before a setting existed meant (every file holds mode, prune_ratio, max_length
# and query_max_length): no transformer window of its own, no passages, no floor (its k1, b and length unused).
UNSAVED_SETTINGS = {
    "window": None,
    "passage_overlap": None,
    "lexical_floor": False,
    "k1": 0.9,
    "b": 0.4,
    "avg_doc_length": 1.0,  # also a new model's, until `fit_lexical_statistics`
}


@dataclass(frozen=True)
class EncoderSettings:
    """What, besides the weights, decides the vectors a saved encoder produces (`nsparse.json`).

    A model trained here takes them from params.yaml's `train.encoder` and `bm25` (`nsparse.train.setup`),
    its mean document length from fitting; a saved one from its `nsparse.json` (`SparseEncoder.load`).
    """

    mode: Mode
    prune_ratio: float  # drop document weights below prune_ratio x the document's largest weight
    max_length: int | None  # document tokens read at once (a passage); None: the whole document
    query_max_length: int
    window: int | None  # document tokens the transformer reads (None: max_length)
    # Documents longer than max_length: None cuts them there; a number splits them into passages of max_length
    # tokens overlapping by this many, each encoded as a document, the vector their element-wise max.
    passage_overlap: int | None
    lexical_floor: bool  # add BM25's term-frequency weight of every present token
    k1: float  # lexical floor: BM25 term-frequency saturation ...
    b: float  # ... and document-length normalisation
    avg_doc_length: float  # lexical floor: mean content tokens per document (set with the IDF)

    def __post_init__(self) -> None:
        if self.mode not in ("inference-free", "bi-encoder"):
            raise ValueError(f"mode must be 'inference-free' or 'bi-encoder', got {self.mode!r}")
        if not 0.0 <= self.prune_ratio < 1.0:
            raise ValueError(f"prune_ratio must be in [0, 1), got {self.prune_ratio}")
        if self.lexical_floor and self.mode != "inference-free":
            raise ValueError("lexical_floor needs mode 'inference-free' (query weights are BM25 IDF)")
        if self.k1 <= 0 or not 0.0 <= self.b <= 1.0 or self.avg_doc_length <= 0:
            raise ValueError(f"lexical floor needs k1 > 0, b in [0, 1], avg_doc_length > 0; got {self}")
        if self.max_length is None and not self.lexical_floor and self.window is None:
            raise ValueError("max_length None (whole documents) needs the lexical floor or a transformer window")
        if self.passage_overlap is not None and (
            self.max_length is None or not 0 <= self.passage_overlap < self.max_length - 2
        ):
            raise ValueError(f"passage_overlap needs a max_length and must be in [0, max_length - 2); got {self}")

    @property
    def transformer_window(self) -> int:
        window = self.window or self.max_length
        assert window is not None  # __post_init__ refuses a model with neither
        return window


def splade_pool(logits: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[batch, seq, vocab] MLM logits -> [batch, vocab]: max over real tokens of log(1 + ReLU(logit))."""
    activations = torch.log1p(torch.relu(logits)) * attention_mask.unsqueeze(-1).to(logits.dtype)
    return activations.max(dim=1).values


def bm25_saturation(
    term_frequency: torch.Tensor, doc_length: torch.Tensor, k1: float, b: float, avg_doc_length: float
) -> torch.Tensor:
    """BM25's term-frequency component (Lucene form, as bm25s computes it): tf / (tf + k1 (1 - b + b dl/avgdl))."""
    norm = k1 * (1.0 - b + b * doc_length / avg_doc_length)
    return term_frequency / (term_frequency + norm)


def prune(weights: torch.Tensor, ratio: float) -> torch.Tensor:
    """Zero every weight below `ratio` times its row's maximum (a no-op for ratio 0)."""
    if ratio <= 0.0:
        return weights
    threshold = weights.max(dim=-1, keepdim=True).values * ratio
    return weights * (weights >= threshold).to(weights.dtype)


def encode_length_sorted(
    texts: Sequence[str],
    batch_size: int,
    encode_batch: Callable[[list[str]], np.ndarray],
    width: int,
    progress: bool = False,
) -> sp.csr_matrix:
    """Encode texts in batches of similar length (little padding), returning rows in input order."""
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    rows = [
        sp.csr_matrix(encode_batch([texts[index] for index in order[start : start + batch_size]]))
        for start in tqdm(
            range(0, len(order), batch_size), desc="encode docs", unit="batch", disable=not progress, mininterval=10
        )
    ]
    if not rows:
        return sp.csr_matrix((0, width), dtype=np.float32)
    return sp.vstack(rows, format="csr")[np.argsort(order)]


def encode_passages_pooled(
    texts: Sequence[str],
    passages: Callable[[str], list[str]],
    batch_size: int,
    encode_batch: Callable[[list[str]], np.ndarray],
    width: int,
    progress: bool = False,
) -> sp.csr_matrix:
    """Encode each text's passages (`passages(text)`) and keep, per text, the element-wise max over its passages."""
    pieces = [passages(text) for text in texts]
    if all(len(parts) == 1 for parts in pieces):
        return encode_length_sorted(texts, batch_size, encode_batch, width, progress)
    flat = [part for parts in pieces for part in parts]
    rows = encode_length_sorted(flat, batch_size, encode_batch, width, progress)
    bounds = np.cumsum([0, *map(len, pieces)])
    pooled = [
        rows[bounds[i]] if bounds[i + 1] - bounds[i] == 1 else rows[bounds[i] : bounds[i + 1]].max(axis=0)
        for i in range(len(texts))
    ]
    return sp.vstack(pooled, format="csr")


def idf_from_document_frequency(document_frequency: np.ndarray, count: int) -> np.ndarray:
    """BM25's (Lucene) idf = ln(1 + (N - df + 0.5) / (df + 0.5)): positive even for unseen tokens."""
    if count == 0:
        raise ValueError("idf: no documents")
    return np.log1p((count - document_frequency + 0.5) / (document_frequency + 0.5))


def compute_idf(
    tokenizer: PreTrainedTokenizerBase, documents: Iterable[str], max_length: int | None
) -> dict[str, float]:
    """BM25-style IDF of every vocabulary token over `documents`; special tokens weigh 0."""
    vocab_size = len(tokenizer)
    document_frequency = np.zeros(vocab_size, dtype=np.int64)
    count = 0
    for text in tqdm(documents, desc="idf", unit="doc", mininterval=5):
        ids = tokenizer(text, add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
        document_frequency[np.unique(np.asarray(ids, dtype=np.int64))] += 1
        count += 1
    idf = idf_from_document_frequency(document_frequency, count)
    idf[tokenizer.all_special_ids] = 0.0
    id_to_token = {index: token for token, index in tokenizer.get_vocab().items()}
    return {id_to_token[index]: float(idf[index]) for index in range(vocab_size)}


class SparseEncoder(nn.Module):
    """Masked LM + tokenizer + IDF vector (+ lexical floor); `forward` gives document vectors, the trainable path.

    `mlm` is None for a floor model that has no learned part (the default model): its vectors are BM25 over the
    vocabulary with its tables, so no transformer is built, trained, saved or exported.
    """

    def __init__(
        self,
        mlm: PreTrainedModel | None,
        tokenizer: PreTrainedTokenizerBase,
        settings: EncoderSettings,
        idf: dict[str, float] | None = None,
        stop_pieces: Sequence[str] = (),
        lexical: dict | None = None,
    ) -> None:
        """`stop_pieces` weigh nothing on either side; `lexical` is a saved `lexical.json` (gate, translations)."""
        super().__init__()
        if mlm is None and (not settings.lexical_floor or settings.mode != "inference-free"):
            raise ValueError("a model without a transformer must be inference-free with the lexical floor")
        self.mlm = mlm
        self.tokenizer = tokenizer
        self.settings = settings
        if settings.max_length is None:  # whole documents: no "longer than the maximum length" warning per call
            tokenizer.model_max_length = WHOLE_DOCUMENT_TOKENS
        vocab_size = mlm.config.vocab_size if mlm is not None else len(tokenizer)
        if len(tokenizer) > vocab_size:
            raise ValueError(f"tokenizer has {len(tokenizer)} tokens but the model only {vocab_size} outputs")
        self.vocab: list[str] = [""] * vocab_size
        token_to_id = tokenizer.get_vocab()
        for token, index in token_to_id.items():
            self.vocab[index] = token
        self.stop_pieces = sorted(piece for piece in stop_pieces if piece in token_to_id)
        silent = torch.zeros(vocab_size, dtype=torch.bool)
        silent[tokenizer.all_special_ids] = True
        silent[[token_to_id[piece] for piece in self.stop_pieces]] = True
        self.register_buffer("silent_tokens", silent, persistent=False)
        # Query weights = idf x exp(idf_log_scale): the corpus IDF, and a learned re-weighting of it that starts
        # at 1, so that training starts from BM25's weights (the trainer lets it learn: train.objective.train_idf).
        self.idf = nn.Parameter(torch.ones(vocab_size), requires_grad=False)
        self.idf_log_scale = nn.Parameter(torch.zeros(vocab_size), requires_grad=False)
        # What earlier training learned on top of the corpus IDF (exp of its log re-weighting), already inside
        # `idf` once loaded: kept apart so that refitting to another corpus keeps it (`fit_lexical_statistics`).
        self.register_buffer("query_scale", torch.ones(vocab_size), persistent=False)
        self.fitted_corpus: dict[str, object] | None = None  # the corpus the statistics come from (`lexical.json`)
        # The learned part's scale: 0 at the start, so an untrained encoder is exactly its lexical floor.
        self.gate = nn.Parameter(
            torch.tensor(0.0 if settings.lexical_floor else 1.0),
            requires_grad=settings.lexical_floor and mlm is not None,
        )
        self.register_buffer("translation_ids", torch.zeros(vocab_size, 0, dtype=torch.long), persistent=False)
        self.register_buffer("translation_weights", torch.zeros(vocab_size, 0), persistent=False)
        if lexical is not None:
            self.load_lexical(lexical)
        if idf is not None:
            self.set_idf(idf)

    @torch.no_grad()
    def set_idf(self, idf: dict[str, float]) -> None:
        """Query token weights from {token: weight}; tokens it lacks weigh 1, silent tokens 0."""
        token_to_id = self.tokenizer.get_vocab()
        weights = torch.ones_like(self.idf)
        for token, weight in idf.items():
            if token in token_to_id:
                weights[token_to_id[token]] = weight
        self.idf.copy_(weights.masked_fill(self.silent_tokens, 0.0))
        self.idf_log_scale.zero_()

    @torch.no_grad()
    def set_translations(self, table: dict[str, list[tuple[str, float]]]) -> None:
        """{source token: [(target token, expected count), ...]} as the dense [vocab, K] lookup the graph gathers."""
        token_to_id = self.tokenizer.get_vocab()
        rows = {
            token_to_id[source]: [(token_to_id[target], weight) for target, weight in targets if target in token_to_id]
            for source, targets in table.items()
            if source in token_to_id
        }
        width = max((len(targets) for targets in rows.values()), default=0)
        ids = torch.zeros(len(self.vocab), width, dtype=torch.long)
        weights = torch.zeros(len(self.vocab), width)
        for source, targets in rows.items():
            for column, (target, weight) in enumerate(targets):
                ids[source, column], weights[source, column] = target, weight
        self.translation_ids = ids.to(self.idf.device)
        self.translation_weights = weights.to(self.idf.device)

    def translations(self) -> dict[str, list[tuple[str, float]]]:
        table = {}
        for source in torch.nonzero(self.translation_weights.sum(dim=1) > 0).flatten().tolist():
            table[self.vocab[source]] = [
                (self.vocab[target], float(weight))
                for target, weight in zip(
                    self.translation_ids[source].tolist(), self.translation_weights[source].tolist()
                )
                if weight > 0
            ]
        return table

    def load_lexical(self, lexical: dict) -> None:
        token_to_id = self.tokenizer.get_vocab()
        with torch.no_grad():
            self.gate.fill_(float(lexical.get("gate", self.gate.item())))
            self.query_scale.fill_(1.0)
            for token, scale in lexical.get("query_scale", {}).items():
                if token in token_to_id:
                    self.query_scale[token_to_id[token]] = scale
        self.fitted_corpus = lexical.get("corpus")
        self.set_translations(
            {source: [tuple(pair) for pair in targets] for source, targets in lexical.get("translations", {}).items()}
        )

    def learned_query_scale(self) -> torch.Tensor:
        """[vocab] what training multiplied the corpus IDF by: the loaded scale times this run's exp(s)."""
        return self.query_scale * torch.exp(self.idf_log_scale.detach())

    @torch.no_grad()
    def fit_lexical_statistics(self, documents: Sequence[str], batch_size: int = 64) -> dict[str, object]:
        """BM25's corpus statistics from the documents to be indexed: mean length and the query-side IDF.

        Document frequency counts the documents whose (translated) floor holds a token, so an
        English term that many Korean documents translate to weighs little, as in BM25. What
        training learned on top of the IDF (`learned_query_scale`) is kept: refitting a trained
        model to another corpus changes only the corpus statistics, in seconds, with no retraining.
        """
        if not documents:
            raise ValueError("fit_lexical_statistics: no documents")
        frequency = torch.zeros(len(self.vocab), dtype=torch.long)
        total_length = 0.0
        digest = hashlib.sha256()
        for start in tqdm(range(0, len(documents), batch_size), desc="corpus statistics", unit="batch", mininterval=10):
            chunk = documents[start : start + batch_size]
            for text in chunk:
                digest.update(text.encode() + b"\x1e")
            batch = self.tokenize(
                chunk, None if self.settings.passage_overlap is not None else self.settings.max_length
            )
            frequencies, lengths = self.term_frequencies(**batch)
            frequency += (frequencies.masked_fill(self.silent_tokens, 0.0) > 0).sum(dim=0).cpu()
            total_length += float(lengths.sum())
        self.settings = replace(self.settings, avg_doc_length=max(total_length / len(documents), 1.0))
        idf = torch.from_numpy(idf_from_document_frequency(frequency.numpy(), len(documents))).to(self.idf)
        self.query_scale.copy_(self.learned_query_scale())
        self.idf.copy_((idf * self.query_scale).masked_fill(self.silent_tokens, 0.0))
        self.idf_log_scale.zero_()
        self.fitted_corpus = {
            "documents": len(documents),
            "sha256": digest.hexdigest(),
            "avg_doc_length": self.settings.avg_doc_length,
        }
        return dict(self.fitted_corpus)

    # --- tensors (training and export) -------------------------------------------
    def term_frequencies(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """([batch, vocab] counts of each token plus its translations' expected counts, [batch, 1] content length)."""
        content = attention_mask.to(self.idf.dtype) * (~self.silent_tokens[input_ids]).to(self.idf.dtype)
        targets, amounts = input_ids, content
        if self.translation_ids.shape[1] > 0:
            translated = self.translation_ids[input_ids].flatten(1)
            amounts_translated = (self.translation_weights[input_ids] * content.unsqueeze(-1)).flatten(1)
            targets = torch.cat([input_ids, translated], dim=1)
            amounts = torch.cat([content, amounts_translated], dim=1)
        frequencies = torch.zeros(input_ids.shape[0], len(self.vocab), dtype=amounts.dtype, device=input_ids.device)
        frequencies = frequencies.scatter_add(1, targets, amounts)
        return frequencies, content.sum(dim=1, keepdim=True)

    def lexical_floor(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[batch, vocab] BM25 term-frequency weights of the (translated) document tokens; no parameters."""
        settings = self.settings
        frequencies, length = self.term_frequencies(input_ids, attention_mask)
        floor = bm25_saturation(frequencies, length, settings.k1, settings.b, settings.avg_doc_length)
        return floor.masked_fill(self.silent_tokens, 0.0)

    def learned(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[batch, vocab] SPLADE weights of the transformer's window of the document, silent tokens zeroed."""
        window = self.settings.transformer_window
        input_ids, attention_mask = input_ids[:, :window], attention_mask[:, :window]
        logits = self.mlm(input_ids=input_ids, attention_mask=attention_mask).logits
        return splade_pool(logits, attention_mask).masked_fill(self.silent_tokens, 0.0)

    def has_transformer(self) -> bool:
        """Whether document vectors need the masked LM: no floor, or a learned part whose gate is open (or training).

        The learned part is off (gate 0, not being trained): the transformer is skipped, in PyTorch and in
        an exported graph alike, which is then the floor alone.
        """
        if self.mlm is None:
            return False
        if not self.settings.lexical_floor:
            return True
        return (self.training and self.gate.requires_grad) or self.gate.item() != 0.0

    def keeps_transformer(self) -> bool:
        """Whether the masked LM is part of the model to save: not when the floor's gate is shut and frozen (the
        learned part did not train), since nothing would ever run it."""
        if self.mlm is None:
            return False
        return not self.settings.lexical_floor or self.gate.requires_grad or self.gate.item() != 0.0

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Unpruned document vectors [batch, vocab] (pruning is an inference-time choice)."""
        if not self.settings.lexical_floor:
            return self.learned(input_ids, attention_mask)
        floor = self.lexical_floor(input_ids, attention_mask)
        if not self.has_transformer():
            return floor
        return floor + self.gate * self.learned(input_ids, attention_mask)

    def idf_query_vectors(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Inference-free query vectors: idf[token] for each distinct real token (differentiable in idf)."""
        present = torch.zeros(input_ids.shape[0], self.idf.shape[0], device=input_ids.device)
        present.scatter_(1, input_ids, attention_mask.to(present.dtype))
        return present.clamp(max=1.0) * self.query_weights()

    def query_weights(self) -> torch.Tensor:
        """[vocab] inference-free query token weights: the (learned re-weighting of the) IDF, silent tokens 0."""
        return (torch.relu(self.idf) * torch.exp(self.idf_log_scale)).masked_fill(self.silent_tokens, 0.0)

    def query_vectors(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.settings.mode == "inference-free":
            return self.idf_query_vectors(input_ids, attention_mask)
        return self(input_ids, attention_mask)

    def tokenize(self, texts: Sequence[str], max_length: int | None) -> dict[str, torch.Tensor]:
        """Padded ids and mask; `max_length` None reads every token (whole documents)."""
        batch = self.tokenizer(
            list(texts),
            padding=True,
            truncation=max_length is not None,
            max_length=max_length,
            return_tensors="pt",
            verbose=False,  # a whole document is meant to be longer than the tokenizer's model_max_length
        )
        device = self.idf.device
        return {"input_ids": batch["input_ids"].to(device), "attention_mask": batch["attention_mask"].to(device)}

    # --- texts -> scipy CSR (evaluation, benchmarks) --------------------------------
    def passages(self, text: str) -> list[str]:
        """The text as ML Commons can read it: itself when it fits `max_length` tokens (special tokens included),
        else overlapping passages of at most that many, cut between words (each tokenizes as its tokens did)."""
        settings = self.settings
        if settings.max_length is None or settings.passage_overlap is None:
            return [text]
        encoding = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        offsets, words = encoding["offset_mapping"], encoding.word_ids()
        width = settings.max_length - self.tokenizer.num_special_tokens_to_add()
        if len(offsets) <= width:
            return [text]
        starts = [i for i in range(len(offsets)) if i == 0 or words[i] != words[i - 1]]  # first piece of a word
        passages, start = [], 0
        while True:
            end = max(i for i in [*starts, len(offsets)] if i <= start + width)
            if end <= start:  # a single word longer than a passage: cut inside it
                end = start + width
            passages.append(text[offsets[start][0] : offsets[end - 1][1]])
            if end >= len(offsets):
                return passages
            start = max(start + 1, min(i for i in [*starts, end] if i >= end - settings.passage_overlap))

    @torch.inference_mode()
    def encode_documents(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> sp.csr_matrix:
        """Pruned document vectors as CSR [n, vocab]; a long document is max-pooled over its passages."""
        was_training = self.training
        self.eval()

        def encode_batch(chunk: list[str]) -> np.ndarray:
            vectors = prune(self(**self.tokenize(chunk, self.settings.max_length)), self.settings.prune_ratio)
            return vectors.float().cpu().numpy()

        matrix = encode_passages_pooled(texts, self.passages, batch_size, encode_batch, len(self.vocab), progress)
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

    @torch.inference_mode()
    def query_token_weights(self, text: str) -> dict[str, float]:
        """One query as {token: weight}. Inference-free, that is the tokenizer and a lookup of each distinct token's
        weight, with no batch of tensors: what a search client computes in a fraction of a millisecond."""
        if self.settings.mode != "inference-free":
            return self.to_token_weights(self.encode_queries([text])[0])
        weights = self.query_weights().cpu().numpy()
        ids = self.tokenizer(text, truncation=True, max_length=self.settings.query_max_length)["input_ids"]
        return {self.vocab[i]: float(weights[i]) for i in dict.fromkeys(ids) if weights[i] > 0}

    def to_token_weights(self, row: sp.spmatrix | np.ndarray) -> dict[str, float]:
        """One vector (a CSR row or a dense array) as {token: weight}, heaviest first."""
        if sp.issparse(row):
            coo = sp.coo_matrix(row)
            pairs = zip(coo.col.tolist(), coo.data.tolist())
        else:
            dense = np.asarray(row).ravel()
            nonzero = np.flatnonzero(dense)
            pairs = zip(nonzero.tolist(), dense[nonzero].tolist())
        return dict(
            sorted(
                ((self.vocab[index], float(weight)) for index, weight in pairs if weight > 0), key=lambda item: -item[1]
            )
        )

    def idf_weights(self) -> dict[str, float]:
        return {token: float(weight) for token, weight in zip(self.vocab, self.query_weights().tolist()) if token}

    # --- persistence ------------------------------------------------------------------
    def write_query_weights(self, path: str | os.PathLike[str]) -> None:
        """`idf.json` as ML Commons' SPARSE_TOKENIZE model reads it: {token: weight}, silent tokens near 0."""
        special = set(self.tokenizer.all_special_tokens)
        weights = {
            token: weight if weight > 0 or token in special else SILENT_QUERY_WEIGHT
            for token, weight in self.idf_weights().items()
        }
        with atomic_open(path) as handle:
            json.dump(weights, handle, ensure_ascii=False)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Hugging Face format (weights and config when `keeps_transformer`, tokenizer.json), idf.json,
        nsparse.json, lexical.json, stop pieces."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        if self.mlm is not None and self.keeps_transformer():
            self.mlm.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        self.write_query_weights(folder / IDF_FILE)
        write_json(folder / SETTINGS_FILE, asdict(self.settings))
        save_stop_pieces(folder, self.stop_pieces)
        if self.settings.lexical_floor:
            scale = self.learned_query_scale()
            write_json(
                folder / LEXICAL_FILE,
                {
                    "gate": float(self.gate.item()),
                    "translations": self.translations(),
                    "query_scale": {
                        self.vocab[index]: float(scale[index])
                        for index in torch.nonzero(scale != 1.0).flatten().tolist()
                        if self.vocab[index]
                    },
                    "corpus": self.fitted_corpus,
                },
            )

    @classmethod
    def load(cls, path_or_hub_id: str | os.PathLike[str], **overrides: object) -> SparseEncoder:
        """Load a saved encoder (or a base masked LM) from a folder or a Hugging Face hub id.

        A hub model without `nsparse.json` (e.g. opensearch-project's doc-only models) is
        inference-free when it ships an `idf.json`, a bi-encoder otherwise, unpruned, its queries read
        up to 64 tokens. `overrides` replace saved settings (e.g. `prune_ratio=0.1`).
        """
        source = str(path_or_hub_id)
        local = Path(source)
        without_transformer = local.is_dir() and not (local / "config.json").exists()  # a floor model's folder
        mlm = None if without_transformer else AutoModelForMaskedLM.from_pretrained(source)
        tokenizer = AutoTokenizer.from_pretrained(source)
        idf = _read_optional_json(source, IDF_FILE)
        saved = _read_optional_json(source, SETTINGS_FILE)
        if saved is None:
            saved = {
                "mode": "inference-free" if idf is not None else "bi-encoder",
                "prune_ratio": 0.0,
                "max_length": min(512, getattr(tokenizer, "model_max_length", 512)),
                "query_max_length": 64,
            }
        settings = EncoderSettings(**{**UNSAVED_SETTINGS, **saved, **overrides})
        stops = _read_optional_json(source, STOP_PIECES_FILE) or []
        return cls(
            mlm,
            tokenizer,
            settings,
            idf,
            stop_pieces=stops,
            lexical=_read_optional_json(source, LEXICAL_FILE),
        )


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
