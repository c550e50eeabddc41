"""What the audit log says about merchants' earlier reviews, as batch runs need it.

"Previous review" means the merchant's latest review that reached a real verdict: replays
(which re-run old evidence) and reviews a batch worker abandoned mid-way (see orphans.py)
are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, or_, select
from sqlalchemy.orm import Session

from merchant_review.storage.schema import NON_ACTING_TRIGGERS, EventRow, ReviewRow, VerdictRow

ABANDONED = "abandoned:"  # the start of the error of a verdict that closed an abandoned review
RETRIEVE_STEP = "retrieve_rules"


@dataclass(frozen=True)
class PreviousReview:
    """The versions and outcome of a merchant's previous review."""

    review_id: str
    merchant_id: str
    started_at: datetime
    engine: str
    model: str | None
    prompt_version: str | None
    corpus_version: str
    settings: dict[str, Any] | None
    record_hash: str | None
    decision: str
    error: str | None


# On the tables, not the mapped classes: every batch item asks, and the ORM's compile step
# cost as much as the query. Only what a PreviousReview holds: the whole rows would also
# load (and parse) the verdict's JSON, findings and all, and the redacted merchant record.
_REVIEWS: Table = ReviewRow.__table__  # type: ignore[assignment]
_VERDICTS: Table = VerdictRow.__table__  # type: ignore[assignment]
_PREVIOUS_COLUMNS = (
    _REVIEWS.c.id, _REVIEWS.c.merchant_id, _REVIEWS.c.started_at, _REVIEWS.c.engine,
    _REVIEWS.c.model, _REVIEWS.c.prompt_version, _REVIEWS.c.corpus_version,
    _REVIEWS.c.settings, _REVIEWS.c.record_hash, _VERDICTS.c.decision, _VERDICTS.c.error,
)  # fmt: skip
_NOT_ABANDONED = or_(_VERDICTS.c.error.is_(None), ~_VERDICTS.c.error.startswith(ABANDONED))
_COLUMNS = (
    select(*_PREVIOUS_COLUMNS)
    .select_from(_REVIEWS.join(_VERDICTS, _VERDICTS.c.review_id == _REVIEWS.c.id))
    .where(_REVIEWS.c.trigger.not_in(NON_ACTING_TRIGGERS), _NOT_ABANDONED)
)
_LATEST = (
    _COLUMNS.where(_REVIEWS.c.merchant_id == bindparam("merchant"))
    .order_by(_REVIEWS.c.started_at.desc())
    .limit(1)
)
_LATEST_OUTSIDE_RUN = _LATEST.where(
    or_(_REVIEWS.c.batch_run_id.is_(None), _REVIEWS.c.batch_run_id != bindparam("run"))
)


def previous_review(
    session: Session, merchant_id: str, *, exclude_run: str | None = None
) -> PreviousReview | None:
    """The merchant's latest real review, leaving out those of batch run `exclude_run`."""
    if exclude_run is None:
        found = session.execute(_LATEST, {"merchant": merchant_id})
    else:
        found = session.execute(_LATEST_OUTSIDE_RUN, {"merchant": merchant_id, "run": exclude_run})
    row = found.first()
    return _previous(row) if row is not None else None


def _previous(row: Sequence[Any]) -> PreviousReview:
    """A PreviousReview from a row of _PREVIOUS_COLUMNS."""
    (review_id, merchant, started_at, engine, model, prompt_version, corpus_version,
     settings, record_hash, decision, error) = row  # fmt: skip
    return PreviousReview(
        review_id=review_id, merchant_id=merchant or "", started_at=started_at, engine=engine,
        model=model, prompt_version=prompt_version, corpus_version=corpus_version,
        settings=settings, record_hash=record_hash, decision=decision, error=error,
    )  # fmt: skip


def latest_reviews(session: Session, merchant_ids: Iterable[str]) -> dict[str, PreviousReview]:
    """merchant id → its latest real review, for the merchants that have one."""
    latest: dict[str, PreviousReview] = {}
    query = _COLUMNS.where(_REVIEWS.c.merchant_id.in_(list(merchant_ids)))
    for row in session.execute(query.order_by(_REVIEWS.c.started_at)):
        previous = _previous(row)
        latest[previous.merchant_id] = previous
    return latest


@dataclass(frozen=True)
class TouchedRules:
    """The policy rules a review touched: the ones retrieved and the ones its findings name."""

    rule_ids: frozenset[str]
    categories: frozenset[str]


def _retrieved(output: dict[str, Any] | None) -> list[str]:
    value = (output or {}).get("value")
    ids = value.get("rule_ids") if isinstance(value, dict) else None
    return [str(i) for i in ids] if isinstance(ids, list) else []


def _found(verdict: dict[str, Any]) -> list[tuple[str, str]]:
    findings = list(verdict.get("findings") or [])
    findings += [r.get("finding") or {} for r in verdict.get("rejected_findings") or []]
    return [(str(f.get("rule_id")), str(f.get("category"))) for f in findings if f.get("rule_id")]


def touched_rules(session: Session, review_ids: list[str]) -> dict[str, TouchedRules]:
    """review id → the rules it touched (retrieved rule ids need the retrieve step's record)."""
    ids: dict[str, set[str]] = {r: set() for r in review_ids}
    categories: dict[str, set[str]] = {r: set() for r in review_ids}
    steps = select(EventRow.review_id, EventRow.output).where(
        EventRow.review_id.in_(review_ids), EventRow.kind == "step", EventRow.name == RETRIEVE_STEP
    )
    for review_id, output in session.execute(steps):
        ids[review_id].update(_retrieved(output))
    verdicts = select(VerdictRow.review_id, VerdictRow.verdict).where(
        VerdictRow.review_id.in_(review_ids)
    )
    for review_id, verdict in session.execute(verdicts):
        for rule_id, category in _found(verdict):
            ids[review_id].add(rule_id)
            categories[review_id].add(category)
        categories[review_id].update(str(c) for c in verdict.get("categories") or [])
    return {r: TouchedRules(frozenset(ids[r]), frozenset(categories[r])) for r in review_ids}
