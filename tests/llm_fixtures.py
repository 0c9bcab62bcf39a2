"""Helpers for the LLM tests: a real OpenAI-compatible HTTP server process and a tiny Qwen3.

The server (`python tests/llm_fixtures.py PORT_FILE [--no-structured]`) speaks
`POST /v1/chat/completions` in the OpenAI wire format. The last user message is a JSON
object of directives, so each test scripts its own behaviour:
  {"reply": "text", "status": 500, "times": 2, "delay": 1.5}
answers the first `times` requests with that content with HTTP `status` (or after
`delay` seconds), later ones with `reply`. `GET /log` returns every request body received.
With --no-structured, a request carrying `response_format` gets HTTP 400, like servers
without structured output.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def _make_handler(structured: bool) -> type[BaseHTTPRequestHandler]:
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
                directives = {"reply": content}
            with lock:
                log.append(request)
                seen[content] += 1
                attempt = seen[content]
            if "response_format" in request and not structured:
                return self._send(400, {"error": {"message": "response_format is not supported", "type": "invalid_request_error"}})
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
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": len(reply.split()), "total_tokens": 1 + len(reply.split())},
                },
            )

    return ChatHandler


def _serve(port_file: str, structured: bool) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(structured))
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


@pytest.fixture(params=[True, False], ids=["structured", "plain"])
def chat_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Base URL (`http://127.0.0.1:PORT/v1`) of a fresh server process, with and without structured output."""
    port_file = tmp_path / "port"
    command = [sys.executable, __file__, str(port_file)] + ([] if request.param else ["--no-structured"])
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


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nsparse.llm.tiny import build_tiny_qwen3

    return build_tiny_qwen3(tmp_path_factory.mktemp("tiny-qwen3"))


if __name__ == "__main__":
    _serve(sys.argv[1], structured="--no-structured" not in sys.argv[2:])
