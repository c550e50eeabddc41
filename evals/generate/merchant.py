"""The processor's merchant record of a dev case (shared/spec/eval-dataset-format.md)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from evals.generate.catalog import business
from evals.generate.data import load
from evals.generate.identity import Identity, slugify
from evals.generate.locale import LEGAL_SUFFIXES
from evals.generate.plan import CaseSpec, Kind

_FIRST_DAY = dt.date(2019, 1, 1)
_LAST_DAY = dt.date(2026, 10, 31)
PERSONAL_SHARE = 0.2  # records that carry owner_name / email / phone


def _created_at(rng: random.Random) -> str:
    span = (_LAST_DAY - _FIRST_DAY).days
    return (_FIRST_DAY + dt.timedelta(days=rng.randint(0, span))).isoformat()


def _volumes(rng: random.Random, spec: CaseSpec) -> dict[str, Any]:
    """Volume and rates; risky merchants skew a little higher, with wide overlap."""
    risky = spec.kind in (Kind.RISKY, Kind.MISMATCH)
    return {
        "monthly_volume_usd": int(round(rng.lognormvariate(9.9, 1.0) / 100) * 100) or 500,
        "dispute_rate": round(rng.uniform(0.0005, 0.012 if risky else 0.007), 4),
        "refund_rate": round(rng.uniform(0.004, 0.07 if risky else 0.05), 4),
    }


def _personal(rng: random.Random, ident: Identity) -> dict[str, str]:
    people = load("people")[ident.lang]
    first, last = rng.choice(people["first"]), rng.choice(people["last"])
    provider = rng.choice(("mailbox", "post", "inbox"))
    return {
        "owner_name": f"{first} {last}",
        "email": f"{slugify(first)}.{slugify(last)}@{provider}.example",
        "phone": ident.phone,
    }


def merchant_record(
    rng: random.Random, case_id: str, spec: CaseSpec, ident: Identity
) -> dict[str, Any]:
    """The record: declared business (name, MCC, description) plus account figures."""
    declared = business(spec.lang, spec.declared)
    record: dict[str, Any] = {
        "merchant_id": f"acct_{case_id}",
        "legal_name": f"{ident.name} {rng.choice(LEGAL_SUFFIXES[ident.country])}",
        "dba": ident.name,
        "country": ident.country,
        "mcc": declared.mcc,
        "business_description": rng.choice(declared.descriptions),
        "website": f"https://{ident.host}/",
        "created_at": _created_at(rng),
    }
    record |= _volumes(rng, spec)
    if rng.random() < PERSONAL_SHARE:
        record |= _personal(rng, ident)
    return record
