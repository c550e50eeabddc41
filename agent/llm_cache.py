"""The response cache: an identical request is answered without calling the model.

The key is (model, sha256 of the canonical request body): the messages, tools,
tool_choice, response_format, temperature and max_tokens all take part, so any change to
the prompt, the page text or the settings that shape the request misses the cache. With
temperature 0 a re-run of an eval or a replay of a review sends the same requests and
costs nothing. Every hit is recorded in the audit log as a model_call event marked
`cached` (with the tokens the original call used, and no tokens charged).

The store is `diskcache` (SQLite underneath, safe across processes on one machine) in
ModelSettings.cache_dir.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import diskcache

from merchant_review.audit import sha256_of


def cache_key(body: dict[str, Any]) -> str:
    """`model:sha256(request)`: the model in clear, so a cache can be read per model."""
    return f"{body.get('model')}:{sha256_of(body)}"


class ResponseCache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, response: dict[str, Any]) -> None: ...


class MemoryResponseCache:
    """A cache in a dict (tests, one process)."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, key: str, response: dict[str, Any]) -> None:
        self.entries[key] = response


class DiskResponseCache:
    """A cache in a folder, shared by the processes of one machine."""

    def __init__(self, directory: Path) -> None:
        self._cache = diskcache.Cache(str(directory))

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._cache.get(key)
        return value if isinstance(value, dict) else None

    def put(self, key: str, response: dict[str, Any]) -> None:
        self._cache.set(key, response)

    def close(self) -> None:
        self._cache.close()
