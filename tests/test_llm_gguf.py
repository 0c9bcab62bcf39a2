"""GGUF in process: the converter against the Hugging Face model, the llama_cpp back end, the stages.

Needs the optional extra `nsparse[llama]` (llama-cpp-python compiles llama.cpp; .ci/llm_extras.sh
installs a cached wheel); without it the module is skipped.
"""

from __future__ import annotations

import json
import shutil

import gguf
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from helpers import SYNTH_CORPUS, llm_params, run_synthesize_stage, run_verify_stage
from nsparse.llm import extract_json, make_generator
from nsparse.llm.gguf_convert import convert_qwen3

llama_cpp = pytest.importorskip("llama_cpp", reason="needs the optional extra nsparse[llama]")

CONVERSATION = [
    {"role": "system", "content": "검색어를 JSON으로"},
    {"role": "user", "content": "대한민국의 수도는 서울이다. 한강 query"},
]


def llama_generator(model, **overrides):
    return make_generator(
        llm_params(**{"backend": "llama_cpp", "model": str(model), "n_ctx": 1024, "max_new_tokens": 16, **overrides}),
        seed=0,
    )


def test_f32_gguf_tokenizes_and_decodes_greedily_like_the_transformers_model(tiny_qwen3, tmp_path):
    path = convert_qwen3(tiny_qwen3, tmp_path / "tiny-f32.gguf", "f32", "gpt-2")
    reader = gguf.GGUFReader(path)
    fields = {
        name: field.contents() for name, field in reader.fields.items() if not name.startswith("tokenizer.ggml.token")
    }
    assert fields["general.architecture"] == "qwen3" and fields["qwen3.block_count"] == 2
    assert fields["tokenizer.ggml.pre"] == "gpt-2" and fields["tokenizer.ggml.add_bos_token"] is False
    assert len(reader.tensors) == 2 * 11 + 2  # 11 per block, token_embd, output_norm (output tied to token_embd)
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen3)
    prompt = tokenizer.apply_chat_template(
        CONVERSATION, tokenize=False, add_generation_prompt=True, enable_thinking=False
    )
    expected = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, verbose=False)
    assert llm.tokenize(prompt.encode(), add_bos=False, special=True) == expected
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen3, dtype=torch.float32).eval()
    hf_tokens = model.generate(torch.tensor([expected]), max_new_tokens=8, do_sample=False, eos_token_id=None)[
        0, len(expected) :
    ].tolist()
    llama_tokens = []
    for token in llm.generate(expected, temp=0.0, top_k=1, reset=True):
        llama_tokens.append(token)
        if len(llama_tokens) == 8:
            break
    assert llama_tokens == hf_tokens


def test_llama_cpp_backend_disables_thinking_follows_the_schema_and_records_speed(tiny_qwen3_gguf):
    generator = llama_generator(tiny_qwen3_gguf, max_new_tokens=48)
    assert generator._prompt(CONVERSATION).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["answer"],
    }
    replies = generator.generate([CONVERSATION, [{"role": "user", "content": "서울"}]], json_schema=schema)
    assert [extract_json(reply)["answer"] in ("yes", "no") for reply in replies] == [True, True]
    greedy = generator.generate([CONVERSATION], temperature=0)
    assert greedy == generator.generate([CONVERSATION], temperature=0) and greedy[0]
    sampled = [llama_generator(tiny_qwen3_gguf).generate([CONVERSATION])[0] for _ in range(2)]
    assert sampled[0] == sampled[1], "the same seed must give the same sampled reply"
    provenance = generator.provenance()
    assert (
        provenance["backend"] == "llama_cpp"
        and provenance["requests"] == 4
        and provenance["llama_cpp_version"] == "0.3.36"
    )
    assert provenance["generated_tokens"] > 0 and generator.throughput()["tokens_per_s"] > 0
    assert "seconds" not in provenance, "wall-clock figures stay out of provenance: reports must reproduce"
    assert provenance["gpu_offload"] is bool(llama_cpp.llama_supports_gpu_offload())


# The shape of gpt-oss's harmony template: no enable_thinking switch, channels inside assistant turns.
HARMONY_TEMPLATE = (
    "{%- for message in messages %}"
    "<|start|>{{ message['role'] }}<|message|>{{ message['content'] }}<|end|>"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}<|start|>assistant{%- endif %}"
)


def test_harmony_templates_open_the_assistant_turn_in_the_final_channel(tiny_qwen3, tmp_path):
    harmony_model = shutil.copytree(tiny_qwen3, tmp_path / "harmony")
    (harmony_model / "chat_template.jinja").write_text(HARMONY_TEMPLATE, encoding="utf-8")
    generator = llama_generator(
        convert_qwen3(harmony_model, tmp_path / "harmony.gguf", "q8_0", "gpt-2"), max_new_tokens=48
    )
    prompt = generator._prompt(CONVERSATION)
    assert prompt.startswith("<|start|>system<|message|>검색어를 JSON으로<|end|>")
    assert prompt.endswith("<|start|>assistant<|channel|>final<|message|>")
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["answer"],
    }
    assert extract_json(generator.generate([CONVERSATION], json_schema=schema)[0])["answer"] in ("yes", "no")


def test_llama_cpp_backend_runs_the_synthesize_stage(tmp_path, tiny_qwen3_gguf):
    report = run_synthesize_stage(
        tmp_path, dict(backend="llama_cpp", model=str(tiny_qwen3_gguf), max_new_tokens=32, n_ctx=2048)
    )
    timings = json.loads((tmp_path / "reports/timings/synthesize.json").read_text(encoding="utf-8"))
    assert report["provenance"]["backend"] == "llama_cpp" and timings["llm"]["tokens_per_s"] > 0
    assert timings["documents_generated_per_minute"] > 0
    assert report["provenance"]["requests"] >= len(SYNTH_CORPUS) and report["cache"]["generated"] == len(SYNTH_CORPUS)


def test_llama_cpp_backend_runs_the_verify_stage(tmp_path, tiny_qwen3_gguf):
    llm = {"backend": "llama_cpp", "model": str(tiny_qwen3_gguf), "max_new_tokens": 32, "n_ctx": 2048}
    folder = run_verify_stage(tmp_path, llm, {"llm_max_candidates": 4, "propose_terms": 2})
    report = json.loads((folder / "reports/synonyms.json").read_text(encoding="utf-8"))
    assert report["provenance"]["backend"] == "llama_cpp" and report["candidates"]["llm_verified"] == 4
    timings = json.loads((folder / "reports/timings/verify.json").read_text(encoding="utf-8"))
    assert report["provenance"]["generated_tokens"] > 0 and timings["llm"]["tokens_per_s"] > 0


@pytest.mark.gpu
@pytest.mark.skipif(not llama_cpp.llama_supports_gpu_offload(), reason="llama-cpp-python built without a GPU back end")
def test_llama_cpp_offload_records_gpu_memory(tiny_qwen3_gguf):
    generator = llama_generator(tiny_qwen3_gguf, n_gpu_layers=-1)
    assert generator.generate([CONVERSATION], temperature=0)[0]
    assert generator.provenance()["gpu_offload"] is True and generator.throughput()["peak_gpu_memory_bytes"] > 0
