"""The audit hashes cover canonical JSON bytes: the orjson writer must give the json module's.

Hash chains already written (SQLite, PostgreSQL) were hashed over
`json.dumps(to_jsonable(v), sort_keys=True, separators=(",", ":"), ensure_ascii=False)`;
they verify only while `canonical_bytes` writes exactly those bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from merchant_review.audit import canonical_bytes, canonical_json, sha256_of, to_jsonable
from tests.auditdata import ABOUT, HOME, MERCHANT, verdict_for


def _old(value: Any) -> bytes:
    """The encoding every existing hash was computed over (audit.py before orjson)."""
    text = json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


class Colour(Enum):
    RED = 1


class Level(IntEnum):
    HIGH = 3


class Kind(StrEnum):
    STEP = "step"


FLOATS = [
    0.0,
    -0.0,
    1.0,
    -1.5,
    0.1,
    1 / 3,
    1e-5,
    1e-7,
    2.5e-300,
    5e-324,
    1e15,
    1e16,
    1.2345678901234568e20,
    1.7976931348623157e308,
    123456789.125,
    float("nan"),
    float("inf"),
    float("-inf"),
]

STRINGS = [
    "",
    "plain",
    'quote " backslash \\ slash /',
    "tab\tnew\nline\rcr\bbs\fff",
    "\x00\x01\x1f\x7f\x80\x9f",
    "é ü ß ñ ç 中文 日本語 한국어 العربية עברית",
    "emoji 😀 🇫🇷 and astral \U0001f600\U00010348",
    "line sep \u2028 para sep \u2029 bom \ufeff nbsp \xa0",
    "</script><!-- -->",
]

SPECIALS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    2**64,  # beyond orjson: the json module writes it
    -(2**70),
    10**40,
    datetime(2026, 11, 29, 10, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    date(2026, 2, 28),
    Decimal("1.10"),
    UUID("12345678-1234-5678-1234-567812345678"),
    Path("/tmp/x"),
    Colour.RED,
    Level.HIGH,
    Kind.STEP,
    (1, "a", 2.5),
    {3, 1, 2},
    frozenset({"b"}),
    b"raw bytes inside",
]


def _random_value(rng: random.Random, depth: int) -> Any:
    leaves: list[Any] = [*FLOATS, *STRINGS, *SPECIALS, rng.random() * 10 ** rng.randint(-12, 25)]
    if depth <= 0 or rng.random() < 0.3:
        return rng.choice(leaves)
    if rng.random() < 0.5:
        keys: list[Any] = [*STRINGS, 1, 2.5, True, None, Kind.STEP, Level.HIGH, "z", "a", "é"]
        return {rng.choice(keys): _random_value(rng, depth - 1) for _ in range(rng.randint(0, 6))}
    return [_random_value(rng, depth - 1) for _ in range(rng.randint(0, 6))]


@pytest.mark.parametrize("value", FLOATS + STRINGS + SPECIALS, ids=repr)
def test_leaves_encode_as_before(value: Any) -> None:
    assert canonical_bytes(value) == _old(value)
    assert canonical_bytes({"v": value, "l": [value]}) == _old({"v": value, "l": [value]})


def test_random_nested_values_encode_as_before() -> None:
    rng = random.Random(20261129)
    for _ in range(3000):
        value = _random_value(rng, 5)
        assert canonical_bytes(value) == _old(value), value


def test_audit_records_encode_as_before() -> None:
    records: list[Any] = [
        MERCHANT,
        MERCHANT.fields(include_personal=True),
        HOME,
        ABOUT,
        verdict_for("rev_1"),
        {"table": "review_events", "prev": "0" * 64, "fields": {"seq": "a" * 64, "name": "b"}},
        {"latency_ms": 12.345, "prompt_tokens": 812, "scores": {"adult": 3.2e-05, "cbd": 0.97}},
    ]
    for record in records:
        assert canonical_bytes(record) == _old(record)
        assert canonical_json(record) == _old(record).decode()


def test_known_hashes_unchanged() -> None:
    """Fixed vectors computed with the json-module encoder: a database written before still
    verifies."""
    record = {
        "table": "verdicts",
        "prev": "f" * 64,
        "fields": {"score": 1e-05, "big": 1e16, "name": "Café 😀", "n": None, "t": [1, True]},
    }
    assert sha256_of(record) == hashlib.sha256(_old(record)).hexdigest()
    assert sha256_of(record) == "cd0771b78eb16a92b285711a202d31b15ead2612fbbd376b825d35325e89620d"
    url_hash = "bdd6bebe25eec8dc08059e6bece5d6faebadab80fe6b462c766e0ce69d345d61"
    assert sha256_of("https://shop.example/") == url_hash


def test_unencodable_text_fails_as_before() -> None:
    lone = "\ud800"
    with pytest.raises(UnicodeEncodeError):
        _old(lone)
    with pytest.raises(UnicodeEncodeError):
        canonical_bytes(lone)


def test_deep_nesting_beyond_orjson_limit_encodes_as_before() -> None:
    value: Any = "leaf"
    for _ in range(300):  # orjson stops at 254 levels; the json module goes on
        value = [value, 1.5]
    assert sys.getrecursionlimit() > 600
    assert canonical_bytes(value) == _old(value)
