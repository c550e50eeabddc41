"""Merchant-records tools: typed reads over the processor's records database."""

from __future__ import annotations

from typing import Any, Protocol

from merchant_review.records import MerchantRecord


class RecordsSource(Protocol):
    """What the records tools need from storage."""

    def get_merchant(self, merchant_id: str) -> MerchantRecord | None: ...

    def prior_reviews(self, merchant_id: str, limit: int = 5) -> list[dict[str, Any]]: ...


def _missing(merchant_id: str | None) -> dict[str, Any]:
    return {"record_exists": False, "merchant_id": merchant_id, "note": "no stored record"}


def get_merchant_profile(
    source: RecordsSource, merchant_id: str | None, *, include_personal: bool = False
) -> dict[str, Any]:
    """The merchant's declared identity: names, country, MCC, business description, website."""
    record = source.get_merchant(merchant_id) if merchant_id else None
    if record is None:
        return _missing(merchant_id)
    risk = {"monthly_volume_usd", "dispute_rate", "refund_rate"}
    fields = {k: v for k, v in record.fields(include_personal=include_personal).items()}
    return {"record_exists": True, **{k: v for k, v in fields.items() if k not in risk}}


def get_risk_figures(source: RecordsSource, merchant_id: str | None) -> dict[str, Any]:
    """Processing figures: monthly volume, dispute rate, refund rate, account age."""
    record = source.get_merchant(merchant_id) if merchant_id else None
    if record is None:
        return _missing(merchant_id)
    return {
        "record_exists": True,
        "merchant_id": record.merchant_id,
        "created_at": record.created_at,
        "monthly_volume_usd": record.monthly_volume_usd,
        "dispute_rate": record.dispute_rate,
        "refund_rate": record.refund_rate,
    }


def get_prior_reviews(
    source: RecordsSource, merchant_id: str | None, limit: int = 5
) -> dict[str, Any]:
    """Earlier reviews of this merchant: when, decision, categories, confidence."""
    record = source.get_merchant(merchant_id) if merchant_id else None
    if record is None:
        return _missing(merchant_id)
    return {"record_exists": True, "reviews": source.prior_reviews(record.merchant_id, limit)}
