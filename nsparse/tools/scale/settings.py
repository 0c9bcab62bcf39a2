"""What a scale run measures and how, and SEISMIC's mapping sized to each corpus."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from nsparse.opensearch.index import SeismicMethod
from nsparse.opensearch.search import SeismicQuery

SYSTEMS = ("bm25_nori", "v2_rank_features", "v2_sparse_vector")
SEISMIC_MIN_POSTINGS = 160  # neural-search's DEFAULT_POSTING_MINIMUM_LENGTH


@dataclass(frozen=True, kw_only=True)
class ScaleParams:
    """What a scale run measures and how; `model` (the encoder whose vectors are indexed) has no default."""

    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    systems: tuple[str, ...] = SYSTEMS
    model: str  # a saved model folder or hub id (`nsparse bench scale --model`, default models/v2)
    benchmarks_dir: str = "data/benchmarks"
    corpora: tuple[str, ...] = ("korquad", "msmarco-ko")  # real documents and queries (the split's first ones)
    split: str = "test"
    queries: int = 200  # per size and system, shared out evenly over `corpora`
    clients: int = 4
    k: int = 10
    seed: int = 0
    bulk_batch: int = 2000
    # Left None: `approximate_threshold` is each corpus' size (only the force-merged segment is clustered, and
    # every size is searched by SEISMIC, not its exact fallback); the ceilings are set from the encoded data.
    seismic: SeismicMethod = field(default_factory=SeismicMethod)
    # SEISMIC keeps this share of the corpus per posting list (at least neural-search's own minimum, 160) unless
    # `seismic.n_postings` fixes a count: four times the plugin's default share (0.0005). At 100k documents,
    # recall@10 of exact was 0.924 with 0.002 and 0.970 with 0.005, which took 2.2 times as long to cluster
    # (clustering grows with the square of the posting length: 0.005 would take hours at 1M here). README.
    n_postings_share: float = 0.002
    # neural-search's circuit breaker, which bounds SEISMIC's heap caches ("40%"); None leaves the cluster's (10%)
    neural_breaker_limit: str | None = None
    seismic_query: SeismicQuery = field(default_factory=SeismicQuery)
    index_prefix: str = "nsparse-scale"
    keep_indices: bool = False


def seismic_for_size(params: ScaleParams, size: int) -> SeismicMethod:
    """The SEISMIC mapping for a corpus of `size` documents; what `params.seismic` leaves None is sized to it.

    `n_postings`: that share of `size`, never below neural-search's own minimum posting length.
    `approximate_threshold`: `size`, so that the bulk load's segments and the merges on the way
    are searched exactly and not clustered, and the force-merged segment is clustered once
    (clustering every flushed segment, then each merge again, took most of a 1M build).
    """
    seismic = params.seismic
    return replace(
        seismic,
        n_postings=seismic.n_postings or max(SEISMIC_MIN_POSTINGS, round(params.n_postings_share * size)),
        approximate_threshold=seismic.approximate_threshold or size,
    )


def quantization_ceiling(values: np.ndarray) -> float:
    """The largest weight rounded up to two significant digits: SEISMIC's byte then spans the real range."""
    largest = float(values.max())
    scale = 10 ** (math.floor(math.log10(largest)) - 1)
    return math.ceil(largest / scale) * scale
