"""GGUF checkpoints in process through llama-cpp-python (optional extra `nsparse[llama]`).

The prompt is rendered with the GGUF file's own chat template (as llama-cpp-python does),
but with `enable_thinking=False` like the `transformers` back end, so Qwen3 GGUFs answer
directly instead of spending the token budget on a `<think>` block. Harmony templates
(gpt-oss) have no such switch and llama.cpp stops at the `<|end|>` that closes the
analysis channel, so the assistant turn is opened in the final channel instead. A JSON schema becomes
a llama.cpp grammar, so replies are valid JSON by construction. Provenance records
tokens/s, whether layers were offloaded to a GPU and, when they were, the device memory
the process held (NVML).

`llm.model` is a GGUF path or a packaged model's name (`nsparse.llm.models`, e.g.
`gemma3-270m`). A base model (the packaged Gemma, or `completion=True`) gets no chat
template: `complete` continues few-shot text up to a stop sequence, seeded per prompt, and
`logprob` scores a continuation. Both reuse the KV cache of the longest prefix shared with
the previous prompt, so a few-shot prefix common to every prompt is evaluated once.
Provenance then adds llama.cpp's own counters: prompt tokens evaluated and generated, with
their tokens/s.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from nsparse.llm.base import Conversation, Generator, strip_thinking
from nsparse.llm.gpu import nvml_process_memory
from nsparse.llm.models import resolve_model
from nsparse.params import Llm

HARMONY_FINAL = "<|channel|>final<|message|>"


class LlamaCppGenerator(Generator):
    backend = "llama_cpp"

    def __init__(self, llm: Llm, seed: int | None) -> None:
        super().__init__(llm)
        try:
            import llama_cpp
        except ImportError as err:
            raise ImportError("llm.backend=llama_cpp needs the optional extra: pip install 'nsparse[llama]'") from err
        path, packaged = resolve_model(llm.model)
        completion, n_gpu_layers = llm.completion, llm.n_gpu_layers
        self.chat = not (completion if completion is not None else packaged is not None and packaged.base_model)
        seeding = {"seed": seed} if seed is not None else {}  # otherwise llama.cpp's own random seed
        # llama-cpp-python's own default is half the CPUs: one thread on a 2-core machine.
        n_threads = llm.n_threads if llm.n_threads is not None else len(os.sched_getaffinity(0))
        self.llm = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=llm.n_ctx,
            n_gpu_layers=n_gpu_layers,
            n_threads=n_threads,
            verbose=False,
            **seeding,
        )
        template = self.llm.metadata.get("tokenizer.chat_template")
        if template is not None and self.chat:
            self.llm.chat_handler = self._handler_without_thinking(template)
        self.gpu_offload = bool(llama_cpp.llama_supports_gpu_offload()) and n_gpu_layers != 0
        self.stats.extra.update(
            {
                "llama_cpp_version": llama_cpp.__version__,
                "n_gpu_layers": n_gpu_layers,
                "n_threads": self.llm.context_params.n_threads,
                "gpu_offload": self.gpu_offload,
                "prompting": "chat" if self.chat else "completion",
            }
        )
        if packaged is not None:
            self.stats.extra["model_file"] = {"name": path.name, "sha256": packaged.sha256}
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
        self._record_perf()
        return replies

    def complete(self, prompts: Sequence[str], stop: Sequence[str], seeds: Sequence[int], **sampling: Any) -> list[str]:
        options = self._sampling(sampling)
        replies = []
        with self._timed():
            for prompt, seed in tqdm(zip(prompts, seeds, strict=True), desc="complete", disable=len(prompts) < 16):
                response = self.llm.create_completion(
                    prompt,
                    temperature=options["temperature"],
                    top_p=options["top_p"],
                    top_k=options["top_k"] or 0,
                    min_p=0.0,
                    max_tokens=options["max_new_tokens"],
                    stop=list(stop),
                    seed=seed,
                )
                self.stats.requests += 1
                self.stats.generated_tokens += response["usage"]["completion_tokens"]
                # Prompt tokens sent; llama_perf's prompt_tokens_evaluated are those not reused from the KV cache.
                self.stats.extra["prompt_tokens"] = (
                    self.stats.extra.get("prompt_tokens", 0) + response["usage"]["prompt_tokens"]
                )
                replies.append(response["choices"][0]["text"].strip())
        self._record_gpu_memory()
        self._record_perf()
        return replies

    def logprob(self, prompt: str, continuation: str) -> float:
        tokenize = self.llm.tokenize
        prompt_tokens = tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        tokens = tokenize((prompt + continuation).encode("utf-8"), add_bos=True, special=True)
        if tokens[: len(prompt_tokens)] != prompt_tokens:  # the join re-tokenized across the boundary
            tokens = prompt_tokens + tokenize(continuation.encode("utf-8"), add_bos=False, special=False)
        total = 0.0
        with self._timed():
            for position in range(len(prompt_tokens), len(tokens)):
                logits = self._next_token_logits(tokens[:position]).astype(np.float64)
                top = logits.max()
                total += float(logits[tokens[position]] - top - np.log(np.exp(logits - top).sum()))
        self.stats.requests += 1
        self._record_perf()
        return total

    def _next_token_logits(self, tokens: list[int]) -> np.ndarray:
        """The logits after `tokens`, evaluating only what the KV cache does not already hold (at least one token)."""
        cached, common = self.llm.input_ids[: self.llm.n_tokens], 0
        limit = min(len(cached), len(tokens) - 1)
        while common < limit and cached[common] == tokens[common]:
            common += 1
        self.llm.n_tokens = common  # eval() drops the KV entries from here on
        self.llm.eval(tokens[common:])
        return np.ctypeslib.as_array(self.llm._ctx.get_logits_ith(-1), shape=(self.llm.n_vocab(),)).copy()

    def _record_perf(self) -> None:
        """llama.cpp's counters since the model was loaded: prompt tokens evaluated (not reused) and generated."""
        import llama_cpp

        perf = llama_cpp.llama_perf_context(self.llm._ctx.ctx)
        self.stats.extra["llama_perf"] = {"prompt_tokens_evaluated": perf.n_p_eval, "generated_tokens": perf.n_eval}
        self.stats.measured["llama_perf"] = {
            "prompt_tokens_per_s": round(perf.n_p_eval / perf.t_p_eval_ms * 1e3, 1) if perf.t_p_eval_ms > 0 else None,
            "generated_tokens_per_s": round(perf.n_eval / perf.t_eval_ms * 1e3, 1) if perf.t_eval_ms > 0 else None,
        }

    def _record_gpu_memory(self) -> None:
        if not self.gpu_offload:
            return
        devices = nvml_process_memory()
        if devices is None:
            return
        self.stats.measured["gpu_memory_bytes_by_device"] = devices
        held = sum(used for used in devices.values() if used is not None)
        self.stats.measured["peak_gpu_memory_bytes"] = max(held, self.stats.measured.get("peak_gpu_memory_bytes", 0))
