"""Reading JSON out of model replies that may wrap it in prose or code fences."""

from __future__ import annotations

import json
from typing import Any

_DECODER = json.JSONDecoder()


def extract_json(reply: str) -> Any | None:
    """The first JSON object or array in `reply`, or None when there is none.

    Servers without structured output (and small local models) often answer
    "```json\\n{...}\\n```" or "Here you go: {...}"; scanning for the first position
    that decodes accepts all of these without a hand-written grammar.
    """
    for start, char in enumerate(reply):
        if char in "{[":
            try:
                value, _ = _DECODER.raw_decode(reply, start)
            except json.JSONDecodeError:
                continue
            return value
    return None


def string_list(reply: str, key: str) -> list[str] | None:
    """`reply`'s JSON `{key: [str, ...]}` (or a bare list) as clean strings; None when malformed."""
    value = extract_json(reply)
    if isinstance(value, dict):
        value = value.get(key)
    if not isinstance(value, list):
        return None
    items = [item.strip() for item in value if isinstance(item, str) and item.strip()]
    return items or None
