"""Few-shot prompt files (`prompts/*.yaml`): the prompt text is data, versioned and hashed.

A prompt file holds a system message, few-shot examples as user/assistant turns, the
user template (`string.Template` placeholders such as `$document`, so the JSON braces
in examples need no escaping) and the JSON schema the reply must follow. Its SHA-256
and full text go into the provenance of every output built with it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import yaml

from nsparse.llm.base import Conversation


@dataclass(frozen=True)
class PromptTemplate:
    path: Path
    text: str
    system: str
    examples: tuple[tuple[str, str], ...]
    user: Template
    schema: dict[str, Any]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PromptTemplate:
        prompt_path = Path(path)
        text = prompt_path.read_text(encoding="utf-8")
        try:
            spec = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ValueError(f"{prompt_path}: not valid YAML: {err}") from err
        if not isinstance(spec, dict):
            raise ValueError(f"{prompt_path}: a prompt file is a mapping with system, examples, user, schema")
        missing = {"system", "examples", "user", "schema"} - set(spec)
        if missing:
            raise ValueError(f"{prompt_path}: missing key(s) {sorted(missing)}")
        examples = []
        for index, example in enumerate(spec["examples"]):
            if not isinstance(example, dict) or set(example) != {"user", "assistant"}:
                raise ValueError(f"{prompt_path}: examples[{index}] must have exactly 'user' and 'assistant'")
            examples.append((str(example["user"]).strip(), str(example["assistant"]).strip()))
        return cls(
            prompt_path,
            text,
            str(spec["system"]).strip(),
            tuple(examples),
            Template(str(spec["user"]).strip()),
            spec["schema"],
        )

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def conversation(self, **fields: str) -> Conversation:
        """System message, the few-shot turns, then the user template filled with `fields`."""
        messages: Conversation = [{"role": "system", "content": self.system}]
        for user, assistant in self.examples:
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        try:
            messages.append({"role": "user", "content": self.user.substitute(fields)})
        except KeyError as err:
            raise KeyError(f"{self.path}: template needs field {err}") from err
        return messages

    def provenance(self) -> dict[str, str]:
        return {"file": str(self.path), "sha256": self.sha256, "text": self.text}
