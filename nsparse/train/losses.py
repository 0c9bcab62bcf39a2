"""Training objectives: contrastive ranking, sparsity regularisation, distillation."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

DistillKind = Literal["kl", "margin_mse"]


def info_nce(query_vectors: torch.Tensor, doc_vectors: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cross-entropy of each query against every document in the batch.

    `doc_vectors` holds the positives first (row i is query i's positive), then every hard
    negative: each query competes against the other queries' positives (in-batch negatives)
    and all hard negatives.
    """
    scores = query_vectors @ doc_vectors.T / temperature
    labels = torch.arange(query_vectors.shape[0], device=scores.device)
    return F.cross_entropy(scores, labels)


def flops(vectors: torch.Tensor, l0_threshold: float | None) -> torch.Tensor:
    """FLOPS regulariser: sum over the vocabulary of the squared mean weight (Paria et al., 2020).

    With `l0_threshold`, only vectors with more than that many non-zero terms are
    regularised (the l0 mask of Shen et al., 2025): short documents keep their terms
    and the pressure lands on the ones that cost most.
    """
    if l0_threshold is not None:
        too_long = ((vectors > 0).sum(dim=1) > l0_threshold).to(vectors.dtype)
        vectors = vectors * too_long.unsqueeze(1)
    return (vectors.abs().mean(dim=0) ** 2).sum()


def quadratic_warmup(step: int, peak: float, warmup_steps: int) -> float:
    """Regulariser weight growing as (step / warmup_steps)^2 up to `peak`: sparsity pressure comes late."""
    if warmup_steps <= 0:
        return peak
    return peak * min(1.0, (step / warmup_steps) ** 2)


def distillation(
    student_scores: torch.Tensor,
    teacher_scores: torch.Tensor,
    valid: torch.Tensor,
    kind: DistillKind,
    temperature: float,
) -> torch.Tensor:
    """Match a teacher's scores over each query's own candidates [batch, 1 + negatives], positive first.

    `valid` marks real candidates (queries may have fewer negatives than the widest one).
    KL matches the candidate distributions; MarginMSE matches positive-minus-negative margins.
    """
    if kind == "kl":
        student = F.log_softmax(student_scores.masked_fill(~valid, float("-inf")), dim=1)
        teacher = F.softmax(teacher_scores.masked_fill(~valid, float("-inf")) / temperature, dim=1)
        terms = torch.where(valid, teacher * (torch.log(teacher.clamp_min(1e-12)) - student), 0.0)
        return terms.sum(dim=1).mean()
    if kind == "margin_mse":
        student_margin = student_scores[:, :1] - student_scores[:, 1:]
        teacher_margin = teacher_scores[:, :1] - teacher_scores[:, 1:]
        negatives = valid[:, 1:]
        if not negatives.any():
            return student_scores.sum() * 0.0
        return F.mse_loss(student_margin[negatives], teacher_margin[negatives])
    raise ValueError(f"distillation kind must be 'kl' or 'margin_mse', got {kind!r}")
