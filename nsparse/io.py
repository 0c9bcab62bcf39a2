"""Atomic file writes and JSON Lines helpers shared by every stage.

Every output is written to a temporary file beside its target and renamed into
place, so an interrupted stage never leaves a half-written file that a later
stage (or DVC) would take for a finished one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from nsparse.faults import UserFault


class DataFormatError(UserFault, ValueError):
    """A record that breaks the format, reported as `file:line: fault` (`file: fault` when no line can be named).

    It lives here, beside the file helpers, so that any module reading an input file can
    raise it without importing `nsparse.data`.
    """

    def __init__(self, path: str | os.PathLike[str], line: int | str | None, fault: str) -> None:
        super().__init__(f"{path}: {fault}" if line is None else f"{path}:{line}: {fault}")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary sibling of `path` for writing; rename it over `path` only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp's 0600 would make outputs unreadable to other users
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path) as handle:
        handle.write(text)


def write_json(path: str | os.PathLike[str], obj: Any, indent: int = 2) -> None:
    with atomic_open(path) as handle:
        json.dump(obj, handle, ensure_ascii=False, indent=indent, sort_keys=False)
        handle.write("\n")


def write_timings(reports: str | os.PathLike[str], stage: str, figures: Mapping[str, Any]) -> None:
    """Wall-clock figures of a stage (seconds per step, rates, memory), in <reports>/timings/<stage>.json
    rather than in its outputs: outputs then hold only what inputs and params decide, so their DVC hashes
    reproduce run to run."""
    write_json(Path(reports) / "timings" / f"{stage}.json", _rounded(figures))


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, Mapping):
        return {name: _rounded(item) for name, item in value.items()}
    return value


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object per line; return the number of rows written."""
    count = 0
    with atomic_open(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")
            count += 1
    return count


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks (model zips are large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
