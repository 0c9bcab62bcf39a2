"""CPU thread count for PyTorch, shared by every stage that runs a model."""

from __future__ import annotations

import os

import torch


def configure_threads(threads: int | None) -> int:
    """Use `threads` intra-op threads, or every CPU this process may run on when unset."""
    count = threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(count)
    return count
