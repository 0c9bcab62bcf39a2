"""A tiny randomly initialised Qwen3 checkpoint, built locally, for the LLM back ends' tests.

It exercises the real `transformers` code path (chat template with `enable_thinking`,
left-padded batched generation) without any download; its replies are noise, so every
output built from it is filtered out downstream, which is what a smoke run should show.

    python tests/tiny_qwen3.py models/tiny-qwen3
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]

# Qwen3's template, reduced to what generation needs: ChatML turns and, with
# enable_thinking=False, an empty think block that tells the model to answer directly.
QWEN3_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}"
    "{%- endif %}"
)

DEFAULT_TEXTS = [
    "대한민국의 수도는 서울이다. 서울은 한강을 끼고 있다.",
    '질문을 JSON으로 작성하세요. {"queries": ["검색어"]}',
    "The capital of Korea is Seoul. 문서 검색 query 합성.",
    "예 아니오 yes no confidence 0.9 english 번역 동의어",
]


def build_tiny_qwen3(
    path: str | os.PathLike[str], texts: Iterable[str] = DEFAULT_TEXTS, vocab_size: int = 600, seed: int = 0
) -> Path:
    """Train a byte-level BPE tokenizer on `texts`, build a 2-layer Qwen3 around it, save both to `path`."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=QWEN3_CHAT_TEMPLATE,
        model_input_names=["input_ids", "attention_mask"],
    )
    config = Qwen3Config(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        bos_token_id=None,
        initializer_range=0.5,  # large random weights: varied (if meaningless) greedy output
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    target = Path(path)
    model.save_pretrained(target)
    fast.save_pretrained(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="output folder")
    print(build_tiny_qwen3(parser.parse_args().path))


if __name__ == "__main__":
    main()
