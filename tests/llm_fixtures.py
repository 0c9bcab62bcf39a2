"""Helpers for the LLM tests: a real OpenAI-compatible HTTP server process and a tiny Qwen3
(as a Hugging Face checkpoint, quantized to AWQ, and converted to GGUF).

The server (`python tests/llm_fixtures.py PORT_FILE [--no-structured] [--reply TEXT]`)
speaks `POST /v1/chat/completions` in the OpenAI wire format. When the last user message
is a JSON object of directives, it scripts the reply:
  {"reply": "text", "status": 500, "times": 2, "delay": 1.5}
answers the first `times` requests with that content with HTTP `status` (or after
`delay` seconds), later ones with `reply`; any other message is answered with --reply
(default: the message itself). `GET /log` returns every request body received. With
--no-structured, a request carrying `response_format` gets HTTP 400, like servers
without structured output.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def _make_handler(structured: bool, default_reply: str | None) -> type[BaseHTTPRequestHandler]:
    seen: Counter[str] = Counter()
    log: list[dict] = []
    lock = threading.Lock()

    class ChatHandler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, body: object) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            with lock:
                self._send(200, log)

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            content = request["messages"][-1]["content"]
            try:
                directives = json.loads(content)
            except json.JSONDecodeError:
                directives = None
            if not isinstance(directives, dict):
                directives = {"reply": content if default_reply is None else default_reply}
            with lock:
                log.append(request)
                seen[content] += 1
                attempt = seen[content]
            if "response_format" in request and not structured:
                return self._send(
                    400, {"error": {"message": "response_format is not supported", "type": "invalid_request_error"}}
                )
            if attempt <= directives.get("times", 0):
                if "delay" in directives:
                    time.sleep(directives["delay"])
                if "status" in directives:
                    return self._send(directives["status"], {"error": {"message": "injected failure"}})
            reply = directives.get("reply", "")
            self._send(
                200,
                {
                    "id": f"chatcmpl-{attempt}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": request["model"],
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
                    ],
                    "usage": {
                        "prompt_tokens": 1,
                        "completion_tokens": len(reply.split()),
                        "total_tokens": 1 + len(reply.split()),
                    },
                },
            )

    return ChatHandler


def _serve(port_file: str, structured: bool, default_reply: str | None) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(structured, default_reply))
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


@contextmanager
def running_chat_server(folder: Path, structured: bool = True, default_reply: str | None = None) -> Iterator[str]:
    """Start the server as a separate process; yield its base URL (`http://127.0.0.1:PORT/v1`)."""
    port_file = folder / "chat-server.port"
    command = [sys.executable, __file__, str(port_file)] + ([] if structured else ["--no-structured"])
    if default_reply is not None:
        command += ["--reply", default_reply]
    process = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 10
        while not (port_file.exists() and port_file.read_text()):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("chat server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


def server_log(base_url: str) -> list[dict]:
    """Every request body the server received, in order."""
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/log") as response:
        return json.load(response)


@pytest.fixture(params=[True, False], ids=["structured", "plain"])
def chat_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh server process, once with and once without structured output."""
    with running_chat_server(tmp_path, structured=request.param) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_qwen3 import build_tiny_qwen3

    return build_tiny_qwen3(tmp_path_factory.mktemp("tiny-qwen3"))


@pytest.fixture(scope="session")
def tiny_qwen3_awq(tiny_qwen3: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Qwen3 quantized to a 4-bit AWQ GEMM checkpoint (group size 32: its layers are 32 and 64 wide)."""
    from nsparse.llm.awq import quantize_awq
    from tiny_qwen3 import DEFAULT_TEXTS

    return quantize_awq(tiny_qwen3, tmp_path_factory.mktemp("tiny-qwen3-awq"), DEFAULT_TEXTS, group_size=32)


@pytest.fixture(scope="session")
def tiny_qwen3_gguf(tiny_qwen3: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Qwen3 as a Q8_0 GGUF file (its tokenizer splits like GPT-2: ByteLevel's default regex)."""
    from nsparse.llm.gguf_convert import convert_qwen3

    return convert_qwen3(
        tiny_qwen3, tmp_path_factory.mktemp("tiny-qwen3-gguf") / "tiny-qwen3-q8_0.gguf", "q8_0", "gpt-2"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("port_file")
    parser.add_argument("--no-structured", action="store_true")
    parser.add_argument("--reply")
    arguments = parser.parse_args()
    _serve(arguments.port_file, structured=not arguments.no_structured, default_reply=arguments.reply)
