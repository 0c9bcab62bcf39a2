"""AWQ 4-bit checkpoints (AutoAWQ's GEMM format, e.g. Qwen/Qwen3-14B-AWQ) in process, in plain PyTorch.

Why not a package: AutoAWQ 0.2.9 is deprecated, does not import with the pinned
transformers 4.57.1 (it imports the removed `PytorchGELUTanh`), hard-imports `datasets`,
which cannot be installed beside the main pins (dvc needs fsspec 2026.9, transformers
4.57.1 needs huggingface-hub<1.0, every `datasets` release wants one or the other), and
ships no aarch64 kernels; transformers' own AWQ integration imports AutoAWQ's modules and
on CPU demands Intel's IPEX; GPTQModel 7.x requires torch>=2.14.1 and transformers>=5.20.2.
The format itself is small: per linear layer `qweight` (int32, eight 4-bit values per word
in AutoAWQ's interleaved order), `qzeros` (packed the same way) and fp16 `scales`, one
zero point and scale per `group_size` input channels; w = (q - z) * s.

`AwqLinear` keeps the packed 4-bit weights in memory and dequantizes one layer at a time
inside `forward`, so it runs wherever PyTorch runs (CPU, CUDA on x86-64 and aarch64/GB10)
with no compiled kernel; the price is speed, not memory. `quantize_awq` is the matching
quantizer (activation-aware scale search, AWQ's core step, then round-to-nearest with zero
points and AutoAWQ's packing): it makes the small checkpoints the tests load.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers.integrations.accelerate import init_empty_weights

BITS = 4
PACK = 32 // BITS
# AutoAWQ's WQLinear_GEMM.from_linear puts column order_map[i] of each group of eight into nibble i.
AWQ_ORDER = (0, 2, 4, 6, 1, 3, 5, 7)
AWQ_REVERSE_ORDER = (0, 4, 1, 5, 2, 6, 3, 7)


def awq_quantization(config: Any) -> dict[str, Any] | None:
    """The checkpoint's AWQ settings, None for a checkpoint that is not AWQ; refuses variants this module cannot run."""
    quantization = getattr(config, "quantization_config", None) or {}
    if not isinstance(quantization, dict):
        quantization = quantization.to_dict()
    if str(quantization.get("quant_method", "")).lower() != "awq":
        return None
    version = str(quantization.get("version", "gemm")).lower()
    if quantization.get("bits", BITS) != BITS or version != "gemm" or not quantization.get("zero_point", True):
        raise ValueError(f"only 4-bit AWQ GEMM checkpoints with zero points run in process, got {quantization}")
    return quantization


def pack_awq(values: torch.Tensor) -> torch.Tensor:
    """[rows, cols] 4-bit integers -> [rows, cols / 8] int32 in AutoAWQ's interleaved nibble order."""
    rows, cols = values.shape
    grouped = values.to(torch.int64).reshape(rows, cols // PACK, PACK)[:, :, list(AWQ_ORDER)]
    shifts = torch.arange(0, 32, BITS, dtype=torch.int64)
    packed = (grouped << shifts).sum(dim=-1)
    return torch.where(packed >= 2**31, packed - 2**32, packed).to(torch.int32)


def unpack_awq(packed: torch.Tensor) -> torch.Tensor:
    """Inverse of `pack_awq`: [rows, cols / 8] int32 -> [rows, cols] integers in 0..15 (uint8)."""
    shifts = torch.arange(0, 32, BITS, dtype=torch.int32, device=packed.device)
    nibbles = (packed.unsqueeze(-1) >> shifts) & 0xF
    return nibbles[:, :, list(AWQ_REVERSE_ORDER)].reshape(packed.shape[0], -1).to(torch.uint8)


class AwqLinear(nn.Module):
    """A linear layer whose weight is stored as AWQ GEMM 4-bit groups; y = x W^T + b."""

    def __init__(self, in_features: int, out_features: int, group_size: int, bias: bool) -> None:
        super().__init__()
        if in_features % group_size or out_features % PACK:
            raise ValueError(
                f"AWQ needs in_features % group_size == 0 and out_features % 8 == 0, got {in_features}x{out_features}"
            )
        self.in_features, self.out_features, self.group_size = in_features, out_features, group_size
        groups = in_features // group_size
        self.register_buffer("qweight", torch.zeros(in_features, out_features // PACK, dtype=torch.int32))
        self.register_buffer("qzeros", torch.zeros(groups, out_features // PACK, dtype=torch.int32))
        self.register_buffer("scales", torch.zeros(groups, out_features, dtype=torch.float16))
        self.register_buffer("bias", torch.zeros(out_features, dtype=torch.float16) if bias else None)

    def dequantized(self, dtype: torch.dtype) -> torch.Tensor:
        """W^T as [in_features, out_features] in `dtype`."""
        weights = unpack_awq(self.qweight).to(dtype)
        zeros = unpack_awq(self.qzeros).to(dtype).repeat_interleave(self.group_size, dim=0)
        return (weights - zeros) * self.scales.to(dtype).repeat_interleave(self.group_size, dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x @ self.dequantized(x.dtype)
        return out + self.bias.to(x.dtype) if self.bias is not None else out

    def extra_repr(self) -> str:
        shape = f"in_features={self.in_features}, out_features={self.out_features}"
        return f"{shape}, group_size={self.group_size}, bits={BITS}"


def _quantized_linear_names(model: nn.Module, quantization: dict[str, Any]) -> list[str]:
    """The linear layers an AWQ checkpoint stores quantized: all but the output head and the listed exceptions."""
    skip = list(quantization.get("modules_to_not_convert") or [])
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name != "lm_head" and not any(part in name for part in skip)
    ]


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def load_awq_causal_lm(model: str | os.PathLike[str], dtype: torch.dtype, device: torch.device) -> PreTrainedModel:
    """An AWQ checkpoint (local folder or hub id) as a causal LM whose linear layers stay 4-bit."""
    folder = Path(model)
    if not folder.is_dir():
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(str(model)))
    config = AutoConfig.from_pretrained(folder)
    quantization = awq_quantization(config)
    if quantization is None:
        raise ValueError(f"{model}: not an AWQ checkpoint")
    del config.quantization_config
    with init_empty_weights(include_buffers=False):  # parameters on "meta"; rotary buffers stay real
        skeleton = AutoModelForCausalLM.from_config(config, dtype=dtype)
    for name in _quantized_linear_names(skeleton, quantization):
        linear = skeleton.get_submodule(name)
        with torch.device("meta"):  # the checkpoint's tensors replace these buffers below
            layer = AwqLinear(
                linear.in_features, linear.out_features, quantization["group_size"], linear.bias is not None
            )
        _replace(skeleton, name, layer)
    state: dict[str, torch.Tensor] = {}
    for shard in sorted(folder.glob("*.safetensors")):
        state.update(load_file(shard, device=str(device)))  # straight to the device: no second copy in host memory
    state = {
        key: value if key.endswith((".qweight", ".qzeros", ".scales")) else value.to(dtype)
        for key, value in state.items()
    }
    missing, unexpected = skeleton.load_state_dict(state, strict=False, assign=True)
    allowed_missing = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if unexpected or set(missing) - allowed_missing:
        raise ValueError(
            f"{model}: checkpoint does not match the AWQ layout (missing {missing}, unexpected {unexpected})"
        )
    skeleton.tie_weights()
    return skeleton.to(device).eval()


def _quantize_groups(weight: torch.Tensor, group_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric round-to-nearest per group of input channels: (q [out, in], zeros, scales [out, groups])."""
    out_features, in_features = weight.shape
    grouped = weight.reshape(out_features, in_features // group_size, group_size)
    high, low = grouped.amax(dim=-1), grouped.amin(dim=-1)
    scales = (
        ((high - low).clamp(min=1e-5) / (2**BITS - 1)).half().float()
    )  # stored as fp16: quantize with what is stored
    zeros = (-torch.round(low / scales)).clamp(0, 2**BITS - 1)
    q = (torch.round(grouped / scales.unsqueeze(-1)) + zeros.unsqueeze(-1)).clamp(0, 2**BITS - 1)
    return q.reshape(out_features, in_features), zeros, scales


def _fake_quantize(weight: torch.Tensor, group_size: int) -> torch.Tensor:
    q, zeros, scales = _quantize_groups(weight, group_size)
    out_features, in_features = weight.shape
    grouped = q.reshape(out_features, -1, group_size)
    return ((grouped - zeros.unsqueeze(-1)) * scales.unsqueeze(-1)).reshape(out_features, in_features)


def _search_scales(inputs: torch.Tensor, linears: Sequence[nn.Linear], group_size: int, grid: int) -> torch.Tensor:
    """AWQ's activation-aware per-input-channel scale: s = mean|x|^a, a chosen on a grid to minimise output error."""
    weight = torch.cat([linear.weight.detach().float() for linear in linears])
    reference = inputs @ weight.T
    activation = inputs.abs().mean(dim=0)
    best, best_error = torch.ones_like(activation), float("inf")
    for step in range(grid):
        scales = activation.pow(step / grid).clamp(min=1e-4)
        scales = scales / (scales.max() * scales.min()).sqrt()
        error = (inputs @ (_fake_quantize(weight * scales, group_size) / scales).T - reference).pow(2).mean().item()
        if error < best_error:
            best, best_error = scales, error
    return best


# Qwen3/Llama-style decoder layer: (the op whose output feeds the group, the linears that read it).
SCALE_GROUPS = (
    ("input_layernorm", ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")),
    ("post_attention_layernorm", ("mlp.gate_proj", "mlp.up_proj")),
    ("mlp.up_proj", ("mlp.down_proj",)),
)


@torch.inference_mode()
def quantize_awq(
    model_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    calibration_texts: Sequence[str],
    group_size: int = 128,
    grid: int = 20,
) -> Path:
    """Quantize a Qwen3/Llama-style causal LM to a 4-bit AWQ GEMM checkpoint (same layout as Qwen/Qwen3-14B-AWQ).

    Inputs of every linear layer are recorded on `calibration_texts`; per group of
    linears reading the same activations, the AWQ scale is searched, folded into the op
    before them (an RMSNorm or up_proj) and multiplied into their weights, which are then
    quantized. AutoAWQ's weight clipping search is not done.
    """
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    quantization = {
        "quant_method": "awq",
        "bits": BITS,
        "group_size": group_size,
        "zero_point": True,
        "version": "gemm",
        "modules_to_not_convert": None,
    }
    names = _quantized_linear_names(model, quantization)
    inputs: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    hooks = [
        model.get_submodule(name).register_forward_hook(
            lambda module, args, output, name=name: inputs[name].append(args[0].reshape(-1, args[0].shape[-1]))
        )
        for name in names
    ]
    for text in calibration_texts:
        model(**tokenizer(text, return_tensors="pt"))
    for hook in hooks:
        hook.remove()
    layers = sorted({match.group(0) for name in names if (match := re.match(r".*layers\.\d+", name))})
    for layer in layers:
        for previous_name, linear_names in SCALE_GROUPS:
            linears = [model.get_submodule(f"{layer}.{name}") for name in linear_names]
            scales = _search_scales(torch.cat(inputs[f"{layer}.{linear_names[0]}"]), linears, group_size, grid)
            previous = model.get_submodule(f"{layer}.{previous_name}")
            if isinstance(previous, nn.Linear):
                previous.weight.div_(scales.unsqueeze(-1))  # scales this linear's outputs
            else:
                previous.weight.div_(scales)  # RMSNorm weight
            for linear in linears:
                linear.weight.mul_(scales)
    state = {key: value.half().contiguous() for key, value in model.state_dict().items()}
    for name in names:
        weight = state.pop(f"{name}.weight").float()
        q, zeros, scales = _quantize_groups(weight, group_size)
        state[f"{name}.qweight"] = pack_awq(q.T.contiguous())
        state[f"{name}.qzeros"] = pack_awq(zeros.T.contiguous())
        state[f"{name}.scales"] = scales.T.contiguous().half()
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    target = Path(output_dir)
    target.mkdir(parents=True, exist_ok=True)
    save_file(state, target / "model.safetensors", metadata={"format": "pt"})
    config = model.config.to_dict()
    config.update({"quantization_config": quantization, "torch_dtype": "float16"})
    (target / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    tokenizer.save_pretrained(target)
    return target
