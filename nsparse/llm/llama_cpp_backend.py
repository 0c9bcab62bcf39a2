"""GGUF checkpoints in process through llama-cpp-python (optional extra `nsparse[llama]`).

The prompt is rendered with the GGUF file's own chat template (as llama-cpp-python does),
but with `enable_thinking=False` like the `transformers` back end, so Qwen3 GGUFs answer
directly instead of spending the token budget on a `<think>` block. Harmony templates
(gpt-oss) have no such switch and llama.cpp stops at the `<|end|>` that closes the
analysis channel, so the assistant turn is opened in the final channel instead. A JSON schema becomes
a llama.cpp grammar, so replies are valid JSON by construction. Provenance records
tokens/s, whether layers were offloaded to a GPU and, when they were, the device memory
the process held (NVML).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tqdm.auto import tqdm

from nsparse.llm.base import Conversation, Generator, strip_thinking
from nsparse.llm.gpu import nvml_process_memory

HARMONY_FINAL = "<|channel|>final<|message|>"


class LlamaCppGenerator(Generator):
    backend = "llama_cpp"

    def __init__(
        self,
        model: str,
        sampling: dict[str, Any],
        n_ctx: int = 4096,
        n_gpu_layers: int = -1,
        n_threads: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(model, sampling)
        try:
            import llama_cpp
        except ImportError as err:
            raise ImportError("llm.backend=llama_cpp needs the optional extra: pip install 'nsparse[llama]'") from err
        seeding = {"seed": seed} if seed is not None else {}  # otherwise llama.cpp's own random seed
        self.llm = llama_cpp.Llama(
            model_path=model, n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, n_threads=n_threads, verbose=False, **seeding
        )
        template = self.llm.metadata.get("tokenizer.chat_template")
        if template is not None:
            self.llm.chat_handler = self._handler_without_thinking(template)
        self.gpu_offload = bool(llama_cpp.llama_supports_gpu_offload()) and n_gpu_layers != 0
        self.stats.extra.update(
            {"llama_cpp_version": llama_cpp.__version__, "n_gpu_layers": n_gpu_layers, "gpu_offload": self.gpu_offload}
        )
        self._record_gpu_memory()

    def _handler_without_thinking(self, template: str) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter, chat_formatter_to_chat_completion_handler

        def text(token: int) -> str:
            return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace") if token >= 0 else ""

        eos = self.llm.token_eos()
        formatter = Jinja2ChatFormatter(
            template=template, eos_token=text(eos), bos_token=text(self.llm.token_bos()), stop_token_ids=[eos]
        )
        harmony = "<|start|>" in template and "<|message|>" in template  # gpt-oss turn markers

        def render(**kwargs: Any) -> Any:
            # Templates without an enable_thinking switch ignore the extra variable.
            response = formatter(**kwargs, enable_thinking=False)
            if harmony and not response.prompt.endswith(HARMONY_FINAL):
                response.prompt += HARMONY_FINAL
            return response

        self._format = render
        return chat_formatter_to_chat_completion_handler(render)

    def _prompt(self, conversation: Conversation) -> str:
        """The prompt text llama.cpp receives for `conversation` (the GGUF's template, thinking off)."""
        return self._format(messages=conversation).prompt

    def generate(
        self, conversations: Sequence[Conversation], json_schema: dict[str, Any] | None = None, **sampling: Any
    ) -> list[str]:
        options = self._sampling(sampling)
        response_format = {"type": "json_object", "schema": json_schema} if json_schema is not None else None
        replies = []
        with self._timed():
            for conversation in tqdm(conversations, desc="generate", disable=len(conversations) < 16):
                response = self.llm.create_chat_completion(
                    messages=conversation,
                    temperature=options["temperature"],
                    top_p=options["top_p"],
                    top_k=options["top_k"] or 0,  # 0: no top-k cut in llama.cpp
                    min_p=0.0,  # llama.cpp's default is 0.05; Qwen's recommended sampling has none
                    max_tokens=options["max_new_tokens"],
                    response_format=response_format,
                )
                self.stats.requests += 1
                self.stats.generated_tokens += response["usage"]["completion_tokens"]
                replies.append(strip_thinking(response["choices"][0]["message"]["content"] or ""))
        self._record_gpu_memory()
        return replies

    def _record_gpu_memory(self) -> None:
        if not self.gpu_offload:
            return
        devices = nvml_process_memory()
        if devices is None:
            return
        self.stats.extra["gpu_memory_bytes_by_device"] = devices
        held = sum(used for used in devices.values() if used is not None)
        self.stats.extra["peak_gpu_memory_bytes"] = max(held, self.stats.extra.get("peak_gpu_memory_bytes", 0))
