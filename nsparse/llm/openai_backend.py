"""Any OpenAI-compatible chat-completions server: vLLM, llama.cpp server, Ollama, OpenAI.

The `openai` client supplies the per-request timeout and retries with exponential
back-off (on timeouts, connection errors, 408/409/429 and 5xx); this module adds
bounded concurrency, JSON-schema structured output with a fall-back to plain text when
the server rejects `response_format`, and the rule that a request which still fails
becomes an empty (malformed) reply instead of aborting a long run, unless every
request of a call fails, which means the server is unusable.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
from tqdm.auto import tqdm

from nsparse.llm.base import Conversation, Generator, strip_thinking
from nsparse.params import Llm

log = logging.getLogger(__name__)

# Errors that remain after the client's own retries: count the request as failed, go on.
REQUEST_ERRORS = (openai.APITimeoutError, openai.APIConnectionError, openai.InternalServerError, openai.RateLimitError)


class OpenAIGenerator(Generator):
    backend = "openai"

    def __init__(self, llm: Llm, seed: int | None) -> None:
        super().__init__(llm)
        # Local servers accept any key; the key is read here and never logged or recorded.
        api_key = os.environ.get(llm.api_key_env) or "not-needed"
        self.client = openai.OpenAI(
            base_url=llm.base_url, api_key=api_key, timeout=llm.timeout_s, max_retries=llm.max_retries
        )
        self.base_url = llm.base_url
        self.concurrency = llm.concurrency
        self.structured_output = llm.structured_output  # turned off when the server rejects response_format
        self.extra_body = llm.extra_body
        self.seed = seed

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "base_url": self.base_url, "structured_output": self.structured_output}

    def generate(
        self, conversations: Sequence[Conversation], json_schema: dict[str, Any] | None = None, **sampling: Any
    ) -> list[str]:
        options = self._sampling(sampling)
        errors: list[Exception] = []

        def complete(conversation: Conversation) -> str:
            try:
                return self._complete(conversation, json_schema, options)
            except REQUEST_ERRORS as err:
                errors.append(err)
                return ""

        with self._timed(), ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            replies = list(
                tqdm(
                    pool.map(complete, conversations),
                    total=len(conversations),
                    desc="generate",
                    disable=len(conversations) < 16,
                )
            )
        self.stats.requests += len(conversations)
        self.stats.failed_requests += len(errors)
        if conversations and len(errors) == len(conversations):
            raise RuntimeError(f"{self.base_url}: every request failed; last error: {errors[-1]}") from errors[-1]
        if errors:
            log.warning("%s: %d of %d requests failed after retries", self.base_url, len(errors), len(conversations))
        return replies

    def _complete(self, conversation: Conversation, json_schema: dict[str, Any] | None, options: dict[str, Any]) -> str:
        request: dict[str, Any] = {
            "model": self.model_id,
            "messages": conversation,
            "temperature": options["temperature"],
            "top_p": options["top_p"],
            "max_tokens": options["max_new_tokens"],
            "extra_body": dict(self.extra_body),
        }
        if options["top_k"] is not None:
            # top_k is not in the OpenAI schema; vLLM, llama.cpp and Ollama read it from the body
            # (set llm.top_k: null for api.openai.com, which rejects it).
            request["extra_body"]["top_k"] = options["top_k"]
        if self.seed is not None:
            request["seed"] = self.seed
        if json_schema is not None and self.structured_output:
            schema_format = {"type": "json_schema", "json_schema": {"name": "reply", "schema": json_schema}}
            try:
                return self._reply(self.client.chat.completions.create(**request, response_format=schema_format))
            except openai.BadRequestError as err:
                # The server does not do structured output: parse plain text from now on.
                log.warning("%s rejected response_format (%s); falling back to plain-text JSON", self.base_url, err)
                self.structured_output = False
        return self._reply(self.client.chat.completions.create(**request))

    def _reply(self, response: Any) -> str:
        if response.usage is not None:
            self.stats.generated_tokens += response.usage.completion_tokens or 0
        if not response.choices:
            return ""
        return strip_thinking(response.choices[0].message.content or "")
