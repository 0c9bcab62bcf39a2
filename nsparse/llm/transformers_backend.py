"""Local causal LMs through Hugging Face transformers (hub id or local path).

Batched with left padding (decoder-only models continue from the right edge), on GPU when
present. Qwen3 chat templates receive `enable_thinking=False`, and any `<think>` block
that still appears is stripped. AWQ checkpoints (e.g. Qwen/Qwen3-14B-AWQ) load through
`nsparse.llm.awq` and stay 4-bit in memory. Tokens/s always, and on CUDA the peak memory
and the device, go into provenance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from nsparse.llm.awq import awq_quantization, load_awq_causal_lm
from nsparse.llm.base import Conversation, Generator, strip_thinking
from nsparse.llm.gpu import torch_cuda_figures
from nsparse.params import Llm


class TransformersGenerator(Generator):
    backend = "transformers"

    def __init__(self, llm: Llm, seed: int | None) -> None:
        super().__init__(llm)
        model, dtype = llm.model, llm.dtype
        self.batch_size = llm.batch_size
        self.device = torch.device(llm.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.tokenizer = AutoTokenizer.from_pretrained(model, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        quantization = awq_quantization(AutoConfig.from_pretrained(model))
        if quantization is None:
            self.model = AutoModelForCausalLM.from_pretrained(model, dtype=dtype).to(self.device).eval()
        else:
            # "auto" for AWQ: fp16 (the checkpoint's) on GPU, fp32 on CPU, where fp16 matmuls are slow.
            compute = (
                getattr(torch, dtype)
                if dtype != "auto"
                else torch.float16
                if self.device.type == "cuda"
                else torch.float32
            )
            self.model = load_awq_causal_lm(model, compute, self.device)
            self.stats.extra["quantization"] = {
                "method": "awq",
                "bits": quantization["bits"],
                "group_size": quantization["group_size"],
                "kernel": "nsparse.llm.awq: PyTorch dequantize + matmul",
                "compute_dtype": str(compute).removeprefix("torch."),
            }
        if seed is not None:
            torch.manual_seed(seed)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def _prompt(self, conversation: Conversation) -> str:
        # Templates without an enable_thinking switch ignore the extra variable.
        return self.tokenizer.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=True, enable_thinking=False
        )

    @torch.inference_mode()
    def generate(
        self, conversations: Sequence[Conversation], json_schema: dict[str, Any] | None = None, **sampling: Any
    ) -> list[str]:
        # json_schema: transformers has no constrained decoding here; the prompt's few-shot
        # examples carry the format and callers parse leniently.
        options = self._sampling(sampling)
        prompts = [self._prompt(conversation) for conversation in conversations]
        replies: list[str] = []
        batches = range(0, len(prompts), self.batch_size)
        with self._timed():
            for start in tqdm(batches, desc="generate", unit="batch", disable=len(batches) < 2):
                replies += self._generate_batch(prompts[start : start + self.batch_size], options)
        if self.device.type == "cuda":
            self.stats.measured.update(torch_cuda_figures(self.device))
        return replies

    def _generate_batch(self, prompts: list[str], options: dict[str, Any]) -> list[str]:
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        do_sample = options["temperature"] > 0
        sampling = {"temperature": options["temperature"], "top_p": options["top_p"], "top_k": options["top_k"]}
        output = self.model.generate(
            input_ids=encoded["input_ids"],
            attention_mask=encoded["attention_mask"],
            max_new_tokens=options["max_new_tokens"],
            do_sample=do_sample,
            **(sampling if do_sample else {}),
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        self.stats.requests += len(prompts)
        self.stats.generated_tokens += int((new_tokens != self.tokenizer.pad_token_id).sum())
        return [strip_thinking(text) for text in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
