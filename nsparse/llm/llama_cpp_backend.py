"""GGUF checkpoints in process through llama-cpp-python (optional extra `nsparse[llama]`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tqdm.auto import tqdm

from nsparse.llm.base import Conversation, Generator, strip_thinking


class LlamaCppGenerator(Generator):
    backend = "llama_cpp"

    def __init__(
        self, model: str, sampling: dict[str, Any], n_ctx: int = 4096, n_gpu_layers: int = -1, seed: int | None = None
    ) -> None:
        super().__init__(model, sampling)
        try:
            from llama_cpp import Llama
        except ImportError as err:
            raise ImportError("llm.backend=llama_cpp needs the optional extra: pip install 'nsparse[llama]'") from err
        seeding = {"seed": seed} if seed is not None else {}  # otherwise llama.cpp's own random seed
        self.llm = Llama(model_path=model, n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, verbose=False, **seeding)

    def generate(
        self, conversations: Sequence[Conversation], json_schema: dict[str, Any] | None = None, **sampling: Any
    ) -> list[str]:
        options = self._sampling(sampling)
        # llama.cpp turns a JSON schema into a grammar, so the reply is valid JSON by construction.
        response_format = {"type": "json_object", "schema": json_schema} if json_schema is not None else None
        replies = []
        with self._timed():
            for conversation in tqdm(conversations, desc="generate", disable=len(conversations) < 16):
                response = self.llm.create_chat_completion(
                    messages=conversation,
                    temperature=options["temperature"],
                    top_p=options["top_p"],
                    top_k=options["top_k"],
                    max_tokens=options["max_new_tokens"],
                    response_format=response_format,
                )
                self.stats.requests += 1
                self.stats.generated_tokens += response["usage"]["completion_tokens"]
                replies.append(strip_thinking(response["choices"][0]["message"]["content"] or ""))
        return replies
