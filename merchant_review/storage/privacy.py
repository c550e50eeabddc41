"""Keeping the merchant record's personal data out of the audit log.

Two layers. Keys: values under personal-data keys (owner_name, email, ...) are replaced at
any depth (merchant_review.audit.redact), and so are record citations of those fields.
Values: the record's personal values themselves (the owner's name, email, phone) are
replaced wherever they turn up as text: in a tool output, a model message, a page the
crawler fetched, a verdict's rationale. The records database (`merchants`) keeps them.

A personal value that the record also shows in a business field (a sole trader whose
legal name is their own name) is business data and stays. Matching is on the exact text,
case-insensitively: a phone number written differently on a page is not recognised.
"""

from __future__ import annotations

import re
from typing import Any

from merchant_review.audit import REDACTED, redact
from merchant_review.records import PERSONAL_FIELDS, MerchantRecord

MIN_VALUE_LENGTH = 4  # shorter values ("Al") would blank out ordinary words


class Scrubber:
    """Replaces one merchant's personal values (and personal-data keys) in JSON-like data."""

    def __init__(self, record: MerchantRecord | None) -> None:
        self._pattern = _pattern(_personal_values(record)) if record else None

    def text(self, value: str) -> str:
        return self._pattern.sub(REDACTED, value) if self._pattern else value

    def optional_text(self, value: str | None) -> str | None:
        return None if value is None else self.text(value)

    def data(self, value: Any) -> Any:
        """A copy with personal keys redacted and personal values replaced, at any depth."""
        return self._values(redact(value, PERSONAL_FIELDS))

    def _values(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self._values(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._values(v) for v in value]
        return value

    def verdict(self, verdict: dict[str, Any]) -> dict[str, Any]:
        """A verdict's JSON without personal data, record citations of personal fields too."""
        return dict(self.data(_redact_record_citations(verdict)))


def _personal_values(record: MerchantRecord) -> list[str]:
    data = record.fields(include_personal=True)
    business = " ".join(str(v) for k, v in data.items() if k not in PERSONAL_FIELDS).lower()
    values = {str(v).strip() for k, v in data.items() if k in PERSONAL_FIELDS and v is not None}
    return [v for v in values if len(v) >= MIN_VALUE_LENGTH and v.lower() not in business]


def _pattern(values: list[str]) -> re.Pattern[str] | None:
    if not values:
        return None
    # Longest first: "Ada Person" is replaced whole before a shorter value inside it.
    ordered = sorted(values, key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in ordered), re.IGNORECASE)


def _redact_record_citations(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("kind") == "record" and value.get("field") in PERSONAL_FIELDS:
            return {**value, "value": REDACTED}
        return {k: _redact_record_citations(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_record_citations(v) for v in value]
    return value
