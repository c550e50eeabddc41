"""The generator's text data: YAML files under `data/`, loaded once per process."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).with_name("data")
LANGS: tuple[str, ...] = ("en", "es", "de", "fr")


@cache
def load(name: str) -> Any:
    """Parse `data/NAME.yaml` (cached: callers must not mutate the result)."""
    with (DATA_DIR / f"{name}.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def strings(raw: Any) -> tuple[str, ...]:
    """A YAML list of strings as a tuple (a missing list is empty)."""
    return tuple(str(item) for item in raw or ())


def pairs(raw: Any) -> tuple[tuple[str, str], ...]:
    """A YAML list of [a, b] string pairs as a tuple of tuples."""
    return tuple((str(a), str(b)) for a, b in raw or ())
