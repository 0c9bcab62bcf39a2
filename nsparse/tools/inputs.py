"""What a user names on the command line, checked before anything heavy loads: a saved model, a BEIR folder.

A wrong path, folder or split is an `InputError`, which `nsparse` prints as one line; the
checks run before torch, ranx or the OpenSearch client load, so a typo fails in a second.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from nsparse.data import Benchmark, load_benchmark
from nsparse.faults import UserFault

if TYPE_CHECKING:  # torch loads only once the path is known to be good
    from nsparse.model.encoder import SparseEncoder

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class InputError(UserFault, ValueError):
    """A path, folder or split the user named that cannot be used; the message says why in one line."""


def load_model(model: str) -> SparseEncoder:
    """A saved encoder from a `models/<variant>` folder, or from the Hugging Face hub for an `org/name` id.

    A path that exists locally, or whose first component does, is a folder and never sent
    to the hub: a typo in `models/v2` fails here at once instead of after a network timeout.
    """
    path = Path(model).expanduser()
    local = path.exists() or path.is_absolute() or model.startswith(".") or Path(path.parts[0]).exists()
    folder = local or not HUB_ID.match(model)
    if folder:
        if not path.exists():
            raise InputError(f"{model}: no such model folder")
        if not path.is_dir():
            raise InputError(f"{model}: not a folder (expected a saved model folder such as models/v2)")
        if not any((path / name).exists() for name in ("config.json", "nsparse.json")):  # a floor model: no config
            raise InputError(f"{model}: not a saved model (no nsparse.json or config.json; expected e.g. models/v2)")
    from nsparse.model.encoder import SparseEncoder

    if folder:
        return SparseEncoder.load(path)
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()  # not a line per retry: one line below says what failed
    try:
        return SparseEncoder.load(model)
    except Exception as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{model}: not a local folder, and the hub could not provide it ({reason})") from err


def load_beir(folder: str | Path, split: str) -> Benchmark:
    """`load_benchmark`, after checking the folder's layout so a wrong path is one clear line."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{folder}: no such folder (expected a BEIR folder with corpus.jsonl, queries.jsonl, qrels/)")
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (root / name).is_file():
            raise InputError(f"{folder}: not a BEIR folder (no {name})")
    if not (root / "qrels" / f"{split}.tsv").is_file():
        available = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        raise InputError(
            f"{folder}: no split {split!r} (qrels/{split}.tsv; available: {', '.join(available) or 'none'})"
        )
    return load_benchmark(root, split)
