"""Merchant Category Codes (ISO 18245): code -> description.

The table ships with the package (merchant_review/data/mcc_codes.csv, public domain, see
MCC_SOURCE.md there). Codes are 4-digit strings: leading zeros matter ("0742").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType


@dataclass(frozen=True)
class MccCode:
    code: str
    description: str
    irs_description: str = ""


def normalise_mcc(value: str | int | None) -> str | None:
    """The 4-digit form of an MCC ("742" or 742 -> "0742"); None when it is not a code."""
    if value is None:
        return None
    text = str(value).strip()
    if not text.isdigit() or len(text) > 4:
        return None
    return text.zfill(4)


@cache
def all_codes() -> Mapping[str, MccCode]:
    """Every known MCC, by 4-digit code (read once, then cached)."""
    table = resources.files("merchant_review").joinpath("data", "mcc_codes.csv")
    rows = csv.DictReader(io.StringIO(table.read_text(encoding="utf-8")))
    codes = {
        row["mcc"]: MccCode(row["mcc"], row["description"], row.get("irs_description") or "")
        for row in rows
    }
    return MappingProxyType(codes)


def lookup(value: str | int | None) -> MccCode | None:
    """The MCC entry for a code, or None for an unknown or malformed code."""
    code = normalise_mcc(value)
    return all_codes().get(code) if code else None


def describe(value: str | int | None) -> str | None:
    """The short description of an MCC ("5942" -> "Book Stores"), or None."""
    entry = lookup(value)
    return entry.description if entry else None
