"""nsparse.llm: one generation interface over interchangeable back ends.

`make_generator(params["llm"])` returns a `Generator` for the `transformers` (AWQ
checkpoints included), `openai` and `llama_cpp` back ends, and None for `offline`, where callers use their
documented non-LLM method instead of generating text.
"""

from __future__ import annotations

from typing import Any

from nsparse.llm.base import DEFAULT_SAMPLING, Conversation, Generator, strip_thinking
from nsparse.llm.parsing import extract_json, string_list
from nsparse.llm.prompt import PromptTemplate

BACKENDS = ("offline", "transformers", "openai", "llama_cpp")

__all__ = [
    "BACKENDS",
    "Conversation",
    "Generator",
    "PromptTemplate",
    "extract_json",
    "make_generator",
    "offline_provenance",
    "string_list",
    "strip_thinking",
]


def make_generator(llm_params: dict[str, Any], seed: int | None = None) -> Generator | None:
    """The back end named by `llm_params["backend"]`, configured from the rest of the section."""
    backend = llm_params.get("backend", "offline")
    sampling = {key: llm_params[key] for key in DEFAULT_SAMPLING if key in llm_params}
    if backend == "offline":
        return None
    if backend == "transformers":
        from nsparse.llm.transformers_backend import TransformersGenerator

        return TransformersGenerator(
            llm_params["model"],
            sampling,
            batch_size=llm_params.get("batch_size", 8),
            dtype=llm_params.get("dtype", "auto"),
            device=llm_params.get("device"),
            seed=seed,
        )
    if backend == "openai":
        from nsparse.llm.openai_backend import OpenAIGenerator

        return OpenAIGenerator(
            llm_params["model"],
            sampling,
            base_url=llm_params["base_url"],
            api_key_env=llm_params.get("api_key_env", "OPENAI_API_KEY"),
            concurrency=llm_params.get("concurrency", 8),
            timeout_s=llm_params.get("timeout_s", 120.0),
            max_retries=llm_params.get("max_retries", 4),
            structured_output=llm_params.get("structured_output", True),
            extra_body=llm_params.get("extra_body"),
            seed=seed,
        )
    if backend == "llama_cpp":
        from nsparse.llm.llama_cpp_backend import LlamaCppGenerator

        return LlamaCppGenerator(
            llm_params["model"],
            sampling,
            n_ctx=llm_params.get("n_ctx", 4096),
            n_gpu_layers=llm_params.get("n_gpu_layers", -1),
            n_threads=llm_params.get("n_threads"),
            seed=seed,
            completion=llm_params.get("completion"),
        )
    raise ValueError(f"llm.backend must be one of {BACKENDS}, got {backend!r}")


def offline_provenance(method: str) -> dict[str, Any]:
    """Provenance for outputs made without an LLM, naming the method that replaced it."""
    return {"backend": "offline", "model": None, "method": method}
