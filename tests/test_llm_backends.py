"""The LLM back ends on their real code paths: a tiny local Qwen3 and a real HTTP server."""

from __future__ import annotations

import json

import pytest

from helpers import llm_params
from llm_fixtures import server_log
from nsparse.llm import PromptTemplate, extract_json, make_generator, string_list, strip_thinking

SCHEMA = {"type": "object", "properties": {"queries": {"type": "array", "items": {"type": "string"}}}}


def ask(directives: dict) -> list[dict[str, str]]:
    return [{"role": "user", "content": json.dumps(directives)}]


def openai_generator(base_url: str, **overrides):
    params = {
        "backend": "openai",
        "model": "test-model",
        "base_url": base_url,
        "timeout_s": 0.5,
        "max_retries": 2,
        "concurrency": 4,
    }
    return make_generator(llm_params(**{**params, **overrides}), seed=None)


def test_strip_thinking_removes_closed_and_unterminated_blocks():
    assert strip_thinking('<think>\nplan\n</think>\n\n{"a": 1}') == '{"a": 1}'
    assert strip_thinking("answer <think>never closed") == "answer"
    assert strip_thinking("no thinking here") == "no thinking here"


def test_extract_json_finds_json_in_prose_and_fences_and_rejects_garbage():
    assert extract_json('Sure:\n```json\n{"queries": ["서울"]}\n```') == {"queries": ["서울"]}
    assert extract_json('[1, 2] then {"b": 2}') == [1, 2]
    assert extract_json('{broken {"ok": true}') == {"ok": True}
    assert extract_json("no json at all") is None
    assert string_list('{"queries": ["  서울 ", "", 3]}', "queries") == ["서울"]
    assert string_list('{"queries": "서울"}', "queries") is None
    assert string_list('{"other": ["서울"]}', "queries") is None


def test_prompt_files_load_and_fill(tmp_path):
    from pathlib import Path

    prompts = sorted(Path("prompts").glob("*.yaml"))
    assert prompts, "prompts/*.yaml missing"
    for path in prompts:
        prompt = PromptTemplate.load(path)
        assert prompt.examples, f"{path}: a few-shot prompt needs examples"
        assert len(prompt.sha256) == 64
    broken = tmp_path / "broken.yaml"
    broken.write_text("system: s\nuser: u\n", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.yaml: missing key"):
        PromptTemplate.load(broken)


def test_transformers_backend_batches_with_left_padding_and_disables_thinking(tiny_qwen3):
    generator = make_generator(
        llm_params(backend="transformers", model=str(tiny_qwen3), max_new_tokens=12, batch_size=3), seed=0
    )
    assert generator.tokenizer.padding_side == "left"
    short = [{"role": "user", "content": "서울"}]
    long = [
        {"role": "system", "content": "검색어를 JSON으로"},
        {"role": "user", "content": "대한민국의 수도는 서울이다. 한강 query"},
    ]
    prompt = generator._prompt(short)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    batched = generator.generate([short, long, short], temperature=0)
    alone = [generator.generate([conversation], temperature=0)[0] for conversation in (short, long)]
    assert batched == [alone[0], alone[1], alone[0]]
    assert any(batched), "greedy output of the tiny model should not be empty"
    sampled = generator.generate([short, long])
    assert len(sampled) == 2 and all("<think>" not in reply for reply in sampled)
    provenance = generator.provenance()
    assert provenance["backend"] == "transformers" and provenance["requests"] == 7
    assert provenance["generated_tokens"] > 0 and generator.throughput()["tokens_per_s"] > 0


def test_openai_backend_returns_replies_in_order_and_asks_for_structured_output(chat_server):
    generator = openai_generator(chat_server)
    replies = generator.generate([ask({"reply": f'{{"queries": ["질문 {i}"]}}'}) for i in range(6)], json_schema=SCHEMA)
    assert [string_list(reply, "queries") for reply in replies] == [[f"질문 {i}"] for i in range(6)]
    requests = server_log(chat_server)
    structured = [request for request in requests if "response_format" in request]
    assert requests[-1]["top_k"] == 20 and requests[-1]["temperature"] == 0.7
    if generator.structured_output:
        assert len(structured) == len(requests) == 6
        assert structured[0]["response_format"]["json_schema"]["schema"] == SCHEMA
    else:  # the plain server rejected response_format once; the rest went out as plain text
        assert len(structured) >= 1 and len(requests) == 6 + len(structured)


def test_openai_backend_retries_5xx_and_timeouts_then_succeeds(chat_server):
    generator = openai_generator(chat_server)
    failing = {"reply": "ok after 500s", "status": 500, "times": 2}
    slow = {"reply": "ok after timeout", "delay": 1.0, "times": 1}
    assert generator.generate([ask(failing), ask(slow)]) == ["ok after 500s", "ok after timeout"]
    contents = [request["messages"][-1]["content"] for request in server_log(chat_server)]
    assert contents.count(json.dumps(failing)) == 3 and contents.count(json.dumps(slow)) == 2
    assert generator.provenance()["failed_requests"] == 0


def test_openai_backend_counts_exhausted_retries_and_fails_when_nothing_succeeds(chat_server):
    generator = openai_generator(chat_server, max_retries=1)
    broken = {"reply": "never", "status": 503, "times": 99}
    assert generator.generate([ask(broken), ask({"reply": "fine"})]) == ["", "fine"]
    assert generator.provenance()["failed_requests"] == 1
    with pytest.raises(RuntimeError, match="every request failed"):
        generator.generate([ask(broken)])
