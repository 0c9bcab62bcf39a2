"""A trained model fitted to the corpus it will index, and that corpus encoded as its index stores it.

BM25's statistics come from the corpus, what training learned is kept. Deploy, `nsparse evaluate`
and the benchmark's exact side all fit through here, so the three score a corpus with the
same statistics; `nsparse evaluate`, the benchmark's exact side and `nsparse bench scale` encode
a corpus through `encode_corpus`, so their document vectors are those a `rank_features` index holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from nsparse.eval.bm25 import document_text
from nsparse.model.encoder import SparseEncoder
from nsparse.opensearch.index import rank_features_precision

ENCODE_CHUNK = 1024  # documents per encoding chunk: bounds the dense activations held at once


class DocumentEncoder(Protocol):
    """What encodes documents: a `SparseEncoder`, or the ONNX graph deploy registered (`OnnxDocumentEncoder`)."""

    @property
    def vocab(self) -> list[str]: ...

    def encode_documents(self, texts: Sequence[str], batch_size: int = 32) -> sp.csr_matrix: ...


def fit_to_corpus(encoder: SparseEncoder, corpus: Mapping[str, Mapping[str, str]]) -> dict[str, object]:
    """Fit the encoder's BM25 statistics (IDF, mean length) to `corpus`'s documents (title and text), in its order.

    What training learned (query-weight multipliers, translations) stays; returns the fitted corpus's record.
    """
    return encoder.fit_lexical_statistics([document_text(document) for document in corpus.values()])


def parity_sample(corpus: Mapping[str, Mapping[str, str]], size: int) -> list[str]:
    """`size` texts to check an export of a corpus's model on (`export.parity.texts`): its first documents and its
    longest one."""
    texts = [document_text(document) for document in corpus.values()]
    return [*texts[: size - 1], max(texts, key=len)] if texts else []


def encode_corpus(
    encoder: DocumentEncoder,
    corpus: Mapping[str, Mapping[str, str]],
    batch_size: int = 32,
    chunk_size: int | None = ENCODE_CHUNK,
    index_precision: bool = True,
    progress: bool = True,
) -> tuple[list[str], sp.csr_matrix]:
    """(document ids, CSR [n, vocab]) of the corpus' title + text, encoded chunk by chunk.

    With `index_precision` (the default) the weights are those a `rank_features` index stores
    (`rank_features_precision`). A chunk's dense activations are dropped as soon as it is a CSR
    block, so memory stays bounded on large corpora; `chunk_size=None` encodes the corpus in one
    call (batches of similar length are then formed over the whole corpus).
    """
    doc_ids = list(corpus)
    step = chunk_size or max(1, len(doc_ids))
    blocks = []
    with tqdm(total=len(doc_ids), desc="encode documents", unit="doc", disable=not progress) as bar:
        for start in range(0, len(doc_ids), step):
            chunk = doc_ids[start : start + step]
            block = encoder.encode_documents([document_text(corpus[i]) for i in chunk], batch_size=batch_size)
            if index_precision:
                block.data = rank_features_precision(block.data)
                block.eliminate_zeros()
            blocks.append(block.astype(np.float32))
            bar.update(len(chunk))
    matrix = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, len(encoder.vocab)), dtype=np.float32)
    return doc_ids, matrix
