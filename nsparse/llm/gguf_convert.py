"""Hugging Face Qwen3 checkpoint -> GGUF file, with the pinned `gguf` package only.

llama.cpp's own `convert_hf_to_gguf.py` (vendored in llama-cpp-python's sdist) needs
the matching unreleased `gguf-py` and identifies the pre-tokenizer by hashing its output
on a fixed text, so it refuses any tokenizer it has not seen (such as the tiny test
model's). This module writes the same keys and tensor names that converter writes for
`Qwen3ForCausalLM` (its `Qwen3Model` and `TextModel.set_gguf_parameters`), naming the
pre-tokenizer explicitly. It serves the tests and smoke runs of `llm.backend=llama_cpp`;
real checkpoints come as published GGUF files (e.g. gpt-oss-20b, Qwen3 GGUFs).

    python -m nsparse.llm.gguf_convert models/tiny-qwen3 models/tiny-qwen3.gguf --type q8_0
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import gguf
import numpy as np
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

# Tensor storage types: 1-D tensors (norms) always stay F32, as llama.cpp's converter keeps them.
OUTPUT_TYPES = {
    "f32": gguf.GGMLQuantizationType.F32,
    "f16": gguf.GGMLQuantizationType.F16,
    "q8_0": gguf.GGMLQuantizationType.Q8_0,
}
FILE_TYPES = {
    "f32": gguf.LlamaFileType.ALL_F32,
    "f16": gguf.LlamaFileType.MOSTLY_F16,
    "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
}


def convert_qwen3(
    model_dir: str | os.PathLike[str],
    output: str | os.PathLike[str],
    out_type: str = "f16",
    pre_tokenizer: str = "qwen2",
) -> Path:
    """Write `model_dir` (a Qwen3ForCausalLM with a byte-level BPE tokenizer) as one GGUF file.

    `pre_tokenizer` names llama.cpp's pre-tokenizer regex ("qwen2" for Qwen's own
    tokenizer, "gpt-2" for a tokenizer trained with the default ByteLevel splitting).
    """
    source = Path(model_dir)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    if config.get("architectures") != ["Qwen3ForCausalLM"]:
        raise ValueError(f"{source}: only Qwen3ForCausalLM converts here, got {config.get('architectures')}")
    if out_type not in OUTPUT_TYPES:
        raise ValueError(f"out_type must be one of {sorted(OUTPUT_TYPES)}, got {out_type!r}")
    blocks = config["num_hidden_layers"]
    writer = gguf.GGUFWriter(Path(output), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.QWEN3])
    writer.add_name(source.name)
    writer.add_block_count(blocks)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config["num_key_value_heads"])
    writer.add_rope_freq_base(config.get("rope_theta", 1_000_000.0))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_file_type(FILE_TYPES[out_type])
    _write_tokenizer(writer, source, config["vocab_size"], pre_tokenizer)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN3, blocks)
    state: dict[str, torch.Tensor] = {}
    for shard in sorted(source.glob("*.safetensors")):
        state.update(load_file(shard))
    if config.get("tie_word_embeddings"):
        state.pop("lm_head.weight", None)  # llama.cpp reuses token_embd when `output` is absent
    for name, tensor in state.items():
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise ValueError(f"{source}: no GGUF name for tensor {name}")
        data = tensor.to(torch.float32).numpy()
        qtype = OUTPUT_TYPES[out_type] if data.ndim > 1 else gguf.GGMLQuantizationType.F32
        if qtype == gguf.GGMLQuantizationType.F32:
            writer.add_tensor(target, data)
        elif qtype == gguf.GGMLQuantizationType.F16:
            writer.add_tensor(target, data.astype(np.float16))
        else:
            writer.add_tensor(target, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(output)


def _write_tokenizer(writer: gguf.GGUFWriter, source: Path, vocab_size: int, pre_tokenizer: str) -> None:
    """Tokens, types, merges, special ids and the chat template, as llama.cpp's `_set_vocab_gpt2` writes them."""
    tokenizer = AutoTokenizer.from_pretrained(source)
    reverse = {index: token for token, index in tokenizer.get_vocab().items()}
    special = {token.content for token in tokenizer.added_tokens_decoder.values() if token.special}
    tokens, types = [], []
    for index in range(vocab_size):
        token = reverse.get(index)
        if token is None:
            tokens.append(f"[PAD{index}]")
            types.append(gguf.TokenType.UNUSED)
        else:
            tokens.append(token)
            types.append(gguf.TokenType.CONTROL if token in special else gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre_tokenizer)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special_vocab = gguf.SpecialVocab(source, load_merges=True)
    special_vocab.add_to_gguf(writer)
    # Qwen has no BOS: llama.cpp must not prepend one (its gpt2 default would).
    writer.add_add_bos_token(False)
    if tokenizer.eos_token_id is not None and special_vocab.special_token_ids.get("eos") is None:
        writer.add_eos_token_id(tokenizer.eos_token_id)
    if tokenizer.chat_template and special_vocab.chat_template is None:
        writer.add_chat_template(tokenizer.chat_template)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("output")
    parser.add_argument("--type", default="f16", choices=sorted(OUTPUT_TYPES))
    parser.add_argument(
        "--pre-tokenizer", default="qwen2", help="llama.cpp pre-tokenizer name (gpt-2 for the tests' tiny Qwen3)"
    )
    arguments = parser.parse_args()
    print(convert_qwen3(arguments.model_dir, arguments.output, arguments.type, arguments.pre_tokenizer))


if __name__ == "__main__":
    main()
