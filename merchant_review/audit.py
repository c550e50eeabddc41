"""The audit sink: how nodes, tools and model calls report what they did.

Storage implements it against the SQL audit log; tests can collect events in memory.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import orjson
from pydantic import BaseModel


class EventKind(StrEnum):
    STEP = "step"
    TOOL_CALL = "tool_call"
    MODEL_CALL = "model_call"


@dataclass
class AuditEvent:
    kind: EventKind
    name: str
    input: Any = None
    output: Any = None
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class AuditSink(Protocol):
    def record(self, event: AuditEvent) -> None: ...


class MemoryAudit:
    """Collects events in a list (tests, dry runs)."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)

    def names(self, kind: EventKind | None = None) -> list[str]:
        return [e.name for e in self.events if kind is None or e.kind is kind]


_PLAIN = (str, int, float, bool, type(None))


def to_jsonable(value: Any) -> Any:
    if isinstance(value, _PLAIN):  # first: most values are (every audit hash comes here)
        return value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return str(value)


def _json_float(value: float) -> orjson.Fragment:
    """A float as the json module writes it (repr, NaN, Infinity): orjson's own form differs
    (1e-05 is "1e-5"), and the chains hash these bytes."""
    if math.isfinite(value):
        return orjson.Fragment(float.__repr__(value))
    return orjson.Fragment("NaN" if value != value else ("Infinity" if value > 0 else "-Infinity"))


def _for_orjson(value: Any) -> Any:
    """`to_jsonable(value)` with its floats as json-module fragments."""
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        return {str(k): _for_orjson(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_for_orjson(v) for v in value]
    return _for_orjson(to_jsonable(value))  # a model or other object: its JSON form


_SORTED = orjson.OPT_SORT_KEYS


def _legacy_json(value: Any) -> str:
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_bytes(value: Any) -> bytes:
    """UTF-8 of `canonical_json(value)`, written by orjson when it can write the same bytes.

    Every audit hash covers these bytes, so they must stay those of the json module
    (sorted keys, no spaces, UTF-8, json's float form; tests/test_audit_encoding.py).
    orjson's string escapes and key order are the same; what it cannot write (integers
    beyond 64 bits, lone surrogates) goes through the json module as before.
    """
    try:
        return orjson.dumps(_for_orjson(value), option=_SORTED)
    except orjson.JSONEncodeError:
        return _legacy_json(value).encode()


def canonical_json(value: Any) -> str:
    return canonical_bytes(value).decode()


def sha256_of(value: Any) -> str:
    data = value if isinstance(value, bytes) else canonical_bytes(value)
    return hashlib.sha256(data).hexdigest()


REDACTED = "[redacted]"


def redact(value: Any, keys: frozenset[str]) -> Any:
    """A copy of `value` with the values of personal-data keys replaced, at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if k in keys else redact(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, keys) for v in value]
    return value
