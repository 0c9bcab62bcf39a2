"""reports/scale.json across runs (sizes measured with the same settings on the same node are kept), and the
latency plot."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from nsparse.io import atomic_open, read_json
from nsparse.tools.scale.settings import SYSTEMS, ScaleParams

log = logging.getLogger(__name__)


def comparable(params: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide a size's figures: all but which sizes and systems a run measures."""
    return {key: value for key, value in params.items() if key not in ("sizes", "systems", "keep_indices")}


def earlier_sizes(output: Path, params: ScaleParams, client: OpenSearch) -> dict[str, Any]:
    """The sizes `output` holds from a run with the same settings on the same version, except those run now."""
    if not output.exists():
        return {}
    earlier = read_json(output)
    same = (
        earlier.get("params") == json.loads(json.dumps(comparable(asdict(params))))
        and earlier.get("opensearch_version") == client.info()["version"]["number"]
    )
    if not same:
        log.info("%s was measured with other settings: its sizes are not kept", output)
        return {}
    return {size: entry for size, entry in earlier.get("sizes", {}).items() if int(size) not in params.sizes}


def plot_latency(report: dict[str, Any], path: Path) -> None:
    """p50 (solid) and p99 (dashed) latency against corpus size, both axes log; synthetic sizes marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(report["sizes"].values(), key=lambda entry: entry["documents"])
    x = [entry["documents"] for entry in sizes]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for system in SYSTEMS:
        timed = [(n, e["systems"].get(system, {})) for n, e in zip(x, sizes)]
        measured = [(n, f) for n, f in timed if "latency_p50_ms" in f]  # a size cut short has build figures only
        if not measured:
            continue
        xs = [n for n, _ in measured]
        (line,) = ax.plot(xs, [f["latency_p50_ms"] for _, f in measured], marker="o", label=system)
        ax.plot(xs, [f["latency_p99_ms"] for _, f in measured], linestyle="--", color=line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")  # p50 near 10 ms and p99 tails of hundreds share one axis
    ax.minorticks_off()
    ax.set_xlabel("documents (* = partly synthetic)")
    ax.set_xticks(x, [f"{n:,}{'*' if e['synthetic'] else ''}" for n, e in zip(x, sizes)])
    ax.set_ylabel("latency ms (p50 solid, p99 dashed)")
    ax.set_title(f"OpenSearch {report['opensearch_version']}, {report['params']['clients']} concurrent clients")
    if ax.get_legend_handles_labels()[0]:  # nothing timed yet: the build figures are saved all the same
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
