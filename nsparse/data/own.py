"""The `data/own` folder: your documents (`synthesize.own_corpus`) as a benchmark, and what its queries are.

`synthesize` writes it (`nsparse.pipeline.synthesize`); deploy and benchmark read it through
here, so they depend on this small contract and not on the synthesis code. It is a
BEIR folder (split `test`) plus `about.json`: `{"name": benchmark name or null, "queries":
"judged" | "synthetic", "label": what the reports print, ...}`; without an own corpus it
holds only `{"name": null}`.
"""

from __future__ import annotations

from pathlib import Path

from nsparse.io import read_json

OWN = "own"  # the corpus' name among the sampled corpora (document keys are "own/<doc id>")
ABOUT = "about.json"
SPLIT = "test"  # the split data/own is written with, whatever the source's was


def own_benchmark(folder: Path) -> tuple[str, Path, str] | None:
    """(benchmark name, folder, label) of what synthesize wrote to `folder`, or None without an own corpus."""
    about_path = folder / ABOUT
    about = read_json(about_path) if about_path.exists() else {}
    return (about["name"], folder, about["label"]) if about.get("name") else None
