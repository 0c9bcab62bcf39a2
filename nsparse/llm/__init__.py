"""nsparse.llm: one generation interface over interchangeable back ends.

`make_generator(params.llm, seed)` returns a `Generator` for the `transformers` (AWQ
checkpoints included), `openai` and `llama_cpp` back ends, and None for `offline`, where callers use their
documented non-LLM method instead of generating text.
"""

from __future__ import annotations

from typing import Any

from nsparse.llm.base import Conversation, Generator, strip_thinking
from nsparse.llm.parsing import extract_json, string_list
from nsparse.llm.prompt import PromptTemplate
from nsparse.params import Llm

__all__ = [
    "Conversation",
    "Generator",
    "PromptTemplate",
    "extract_json",
    "make_generator",
    "offline_provenance",
    "string_list",
    "strip_thinking",
]


def make_generator(llm: Llm, seed: int | None) -> Generator | None:
    """The back end `llm.backend` names, configured from the section; `seed` None: the back end's own randomness."""
    if llm.backend == "offline":
        return None
    if llm.backend == "transformers":
        from nsparse.llm.transformers_backend import TransformersGenerator

        return TransformersGenerator(llm, seed)
    if llm.backend == "openai":
        from nsparse.llm.openai_backend import OpenAIGenerator

        return OpenAIGenerator(llm, seed)
    from nsparse.llm.llama_cpp_backend import LlamaCppGenerator

    return LlamaCppGenerator(llm, seed)


def offline_provenance(method: str) -> dict[str, Any]:
    """Provenance for outputs made without an LLM, naming the method that replaced it."""
    return {"backend": "offline", "model": None, "method": method}
