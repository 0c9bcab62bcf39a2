"""AWQ 4-bit checkpoints in process: AutoAWQ's GEMM layout, the quantizer, the transformers back end, the stages."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from helpers import SYNTH_CORPUS, llm_params, run_synthesize_stage
from nsparse.llm import make_generator
from nsparse.llm.awq import AwqLinear, awq_quantization, load_awq_causal_lm, pack_awq, quantize_awq, unpack_awq
from tiny_qwen3 import DEFAULT_TEXTS

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_packing_follows_autoawq_nibble_order():
    # AutoAWQ's WQLinear_GEMM.from_linear: nibble i of a word holds column [0, 2, 4, 6, 1, 3, 5, 7][i].
    # Columns valued 1..8 therefore pack to nibbles 1,3,5,7,2,4,6,8 from the lowest up: 0x86427531.
    packed = pack_awq(torch.arange(1, 9).reshape(1, 8))
    assert packed.dtype == torch.int32 and packed.item() & 0xFFFFFFFF == 0x86427531
    values = torch.randint(0, 16, (5, 24), generator=torch.Generator().manual_seed(0))
    assert torch.equal(unpack_awq(pack_awq(values)), values.to(torch.uint8))


def test_dequantized_weight_is_q_minus_zero_times_scale_per_group():
    generator = torch.Generator().manual_seed(1)
    q = torch.randint(0, 16, (8, 16), generator=generator)  # [in, out]: AutoAWQ stores W transposed
    zeros = torch.randint(0, 16, (2, 16), generator=generator)  # group size 4: 8 inputs -> 2 groups
    scales = torch.rand(2, 16, generator=generator).half()
    layer = AwqLinear(8, 16, group_size=4, bias=False)
    layer.qweight, layer.qzeros, layer.scales = pack_awq(q), pack_awq(zeros), scales
    expected = torch.empty(8, 16)
    for row in range(8):
        expected[row] = (q[row] - zeros[row // 4]) * scales[row // 4].float()
    assert torch.equal(layer.dequantized(torch.float32), expected)
    x = torch.randn(3, 8, generator=generator)
    assert torch.allclose(layer(x), x @ expected, atol=1e-6)


def test_only_4bit_gemm_awq_with_zero_points_is_accepted(tiny_qwen3):
    config = AutoConfig.from_pretrained(tiny_qwen3)
    assert awq_quantization(config) is None  # a full-precision checkpoint is not AWQ
    config.quantization_config = {
        "quant_method": "awq",
        "bits": 4,
        "group_size": 128,
        "version": "GEMM",
        "zero_point": True,
    }
    assert awq_quantization(config)["group_size"] == 128
    for variant in ({"version": "gemv"}, {"bits": 8}, {"zero_point": False}):
        config.quantization_config = {"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm", **variant}
        with pytest.raises(ValueError, match="only 4-bit AWQ GEMM"):
            awq_quantization(config)


def logits_error(reference, model, tokenizer) -> float:
    errors = []
    for text in DEFAULT_TEXTS:
        encoded = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            errors.append((reference(**encoded).logits - model(**encoded).logits).pow(2).mean())
    return float(torch.stack(errors).mean())


def test_quantized_checkpoint_has_the_awq_gemm_layout(tiny_qwen3_awq):
    config = json.loads((tiny_qwen3_awq / "config.json").read_text())
    assert config["quantization_config"] == {
        "quant_method": "awq",
        "bits": 4,
        "group_size": 32,
        "zero_point": True,
        "version": "gemm",
        "modules_to_not_convert": None,
    }
    state = load_file(tiny_qwen3_awq / "model.safetensors")
    assert state["model.layers.0.mlp.down_proj.qweight"].shape == (64, 32 // 8)  # [in, out / 8]
    assert state["model.layers.0.mlp.down_proj.qzeros"].shape == (2, 32 // 8)  # [in / group, out / 8]
    assert state["model.layers.0.mlp.down_proj.scales"].dtype == torch.float16
    assert not any(key.endswith("proj.weight") for key in state)


def test_activation_aware_scales_beat_plain_rounding_when_some_channels_are_salient(tiny_qwen3, tmp_path):
    # AWQ's premise: a few input channels carry large activations. Give the tiny model some
    # (norm weights of 10 on four channels), then compare with round-to-nearest (grid 1: scale 1 only).
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen3, dtype=torch.float32).eval()
    with torch.no_grad():
        for layer in model.model.layers:
            layer.input_layernorm.weight[:4] = 10.0
            layer.post_attention_layernorm.weight[:4] = 10.0
    salient = tmp_path / "salient"
    model.save_pretrained(salient)
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen3)
    tokenizer.save_pretrained(salient)
    awq = quantize_awq(salient, tmp_path / "awq", DEFAULT_TEXTS, group_size=32)
    rounded = quantize_awq(salient, tmp_path / "rtn", DEFAULT_TEXTS, group_size=32, grid=1)
    awq_error = logits_error(model, load_awq_causal_lm(awq, torch.float32, torch.device("cpu")), tokenizer)
    rtn_error = logits_error(model, load_awq_causal_lm(rounded, torch.float32, torch.device("cpu")), tokenizer)
    assert awq_error < 0.95 * rtn_error


def test_transformers_backend_generates_from_an_awq_checkpoint_with_4bit_layers(tiny_qwen3_awq):
    generator = make_generator(
        llm_params(backend="transformers", model=str(tiny_qwen3_awq), max_new_tokens=12, batch_size=3), seed=0
    )
    linears = {
        name: type(module).__name__
        for name, module in generator.model.named_modules()
        if "proj" in name or name == "lm_head"
    }
    assert linears.pop("lm_head") == "Linear"  # the output head stays full precision, as in AutoAWQ
    assert set(linears.values()) == {"AwqLinear"} and len(linears) == 2 * 7
    short = [{"role": "user", "content": "서울"}]
    long = [
        {"role": "system", "content": "검색어를 JSON으로"},
        {"role": "user", "content": "대한민국의 수도는 서울이다."},
    ]
    batched = generator.generate([short, long, short], temperature=0)
    assert batched == [generator.generate([conversation], temperature=0)[0] for conversation in (short, long, short)]
    assert any(batched), "greedy output of the tiny model should not be empty"
    provenance = generator.provenance()
    assert provenance["quantization"]["method"] == "awq" and provenance["quantization"]["compute_dtype"] == "float32"
    assert provenance["generated_tokens"] > 0 and generator.throughput()["tokens_per_s"] > 0


def test_awq_checkpoint_runs_the_synthesize_stage(tmp_path, tiny_qwen3_awq):
    report = run_synthesize_stage(tmp_path, dict(backend="transformers", model=str(tiny_qwen3_awq), max_new_tokens=24))
    assert report["provenance"]["quantization"]["method"] == "awq" and report["provenance"]["generated_tokens"] > 0
    assert report["malformed"]["queries"] == len(SYNTH_CORPUS)  # a random model writes no JSON: every document counted


@pytest.mark.gpu
@requires_cuda
def test_awq_on_cuda_records_peak_memory_and_stays_4bit(tiny_qwen3_awq):
    generator = make_generator(llm_params(backend="transformers", model=str(tiny_qwen3_awq), max_new_tokens=8), seed=0)
    assert generator.model.model.layers[0].mlp.down_proj.qweight.device.type == "cuda"
    assert generator.generate([[{"role": "user", "content": "서울"}]], temperature=0)
    assert generator.provenance()["quantization"]["compute_dtype"] == "float16"
    throughput = generator.throughput()
    assert throughput["peak_gpu_memory_bytes"] > 0 and throughput["device"] and throughput["tokens_per_s"] > 0
