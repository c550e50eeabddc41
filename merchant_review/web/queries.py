"""The review queue: finished reviews that need a human, filtered, sorted and paginated.

A review needs a human when no analyst has overridden (or confirmed) it yet and its
decision is escalate, request_info or reject (a reject awaits confirmation), or its
confidence is below the queue threshold, or an active shadow challenger decided otherwise
(merchant_review/experiments/queue.py). Replays and shadow reviews are never queued; by
default only a merchant's latest review is (an older one was superseded by a newer one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Select, Text, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from merchant_review.experiments.queue import challenger_disagrees, disagreeing
from merchant_review.storage import Store
from merchant_review.storage.schema import NON_ACTING_TRIGGERS, OverrideRow, ReviewRow, VerdictRow
from merchant_review.taxonomy import Category, Decision

Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])
HUMAN_DECISIONS = (Decision.ESCALATE, Decision.REQUEST_INFO, Decision.REJECT)
DECISION_ORDER = {"reject": 0, "escalate": 1, "request_info": 2, "approve": 3}


class SortKey(StrEnum):
    STARTED = "started"
    CONFIDENCE = "confidence"
    DECISION = "decision"
    MERCHANT = "merchant"


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows: filters, order and page."""

    threshold: float
    decision: Decision | None = None
    category: Category | None = None
    date_from: date | None = None
    date_to: date | None = None
    eval_run_id: str | None = None
    batch_run_id: str | None = None
    experiment: str | None = None  # only reviews this shadow challenger disagreed with
    latest_only: bool = True
    sort: SortKey = SortKey.STARTED
    descending: bool = True
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True)
class QueueItem:
    """One queued review and why it needs a human."""

    review_id: str
    merchant_id: str | None
    website: str
    started_at: datetime
    engine: str
    decision: str
    confidence: float
    categories: list[str]
    reason: str
    eval_run_id: str | None
    batch_run_id: str | None


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _needs_human(threshold: float) -> ColumnElement[bool]:
    return and_(
        ~exists().where(OverrideRow.review_id == ReviewRow.id),
        ReviewRow.trigger.not_in(NON_ACTING_TRIGGERS),
        or_(
            VerdictRow.decision.in_([d.value for d in HUMAN_DECISIONS]),
            VerdictRow.confidence < threshold,
            challenger_disagrees(),  # its label decides a shadow experiment
        ),
    )


def _superseded() -> ColumnElement[bool]:
    """A newer review of the same merchant has a verdict."""
    newer, newer_verdict = aliased(ReviewRow), aliased(VerdictRow)
    return (
        exists()
        .where(newer_verdict.review_id == newer.id)
        .where(
            newer.merchant_id == ReviewRow.merchant_id, newer.trigger.not_in(NON_ACTING_TRIGGERS)
        )
        .where(newer.started_at > ReviewRow.started_at)
    )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _filtered(query: Q, f: QueueFilter) -> Q:
    query = query.where(_needs_human(f.threshold))
    if f.latest_only:
        query = query.where(~_superseded())
    if f.decision is not None:
        query = query.where(VerdictRow.decision == f.decision.value)
    if f.category is not None:  # categories is a JSON list of ids: match the quoted id
        query = query.where(cast(VerdictRow.categories, Text).like(f'%"{f.category.value}"%'))
    if f.date_from is not None:
        query = query.where(ReviewRow.started_at >= _day_start(f.date_from))
    if f.date_to is not None:
        query = query.where(ReviewRow.started_at < _day_start(f.date_to + timedelta(days=1)))
    if f.eval_run_id:
        query = query.where(ReviewRow.eval_run_id == f.eval_run_id)
    if f.batch_run_id:
        query = query.where(ReviewRow.batch_run_id == f.batch_run_id)
    if f.experiment:
        query = query.where(challenger_disagrees(f.experiment))
    return query


def _order(f: QueueFilter) -> list[Any]:
    column: Any = {
        SortKey.STARTED: ReviewRow.started_at,
        SortKey.CONFIDENCE: VerdictRow.confidence,
        SortKey.DECISION: case(DECISION_ORDER, value=VerdictRow.decision, else_=9),
        SortKey.MERCHANT: ReviewRow.merchant_id,
    }[f.sort]
    tiebreak = ReviewRow.id.desc() if f.descending else ReviewRow.id
    return [column.desc() if f.descending else column.asc(), tiebreak]


def queue_reason(decision: str, confidence: float, threshold: float) -> str:
    """Why a review is in the queue, in words."""
    reasons = {
        "escalate": "escalated",
        "request_info": "information requested",
        "reject": "reject awaiting confirmation",
    }
    parts = [reasons[decision]] if decision in reasons else []
    if confidence < threshold:
        parts.append(f"low confidence ({confidence:.2f})")
    return "; ".join(parts)


def _item(
    review: ReviewRow, verdict: VerdictRow, threshold: float, challengers: list[str]
) -> QueueItem:
    reason = queue_reason(verdict.decision, verdict.confidence, threshold)
    if challengers:
        shadow = f"challenger {', '.join(challengers)} disagrees"
        reason = f"{reason}; {shadow}" if reason else shadow
    return QueueItem(
        review_id=review.id,
        merchant_id=review.merchant_id,
        website=review.website,
        started_at=review.started_at,
        engine=review.engine,
        decision=verdict.decision,
        confidence=verdict.confidence,
        categories=[str(c) for c in verdict.categories],
        reason=reason,
        eval_run_id=review.eval_run_id,
        batch_run_id=review.batch_run_id,
    )


def review_queue(store: Store, f: QueueFilter) -> QueuePage:
    """One page of the queue, with the total number of queued reviews."""
    base = select(ReviewRow, VerdictRow).join(VerdictRow, VerdictRow.review_id == ReviewRow.id)
    query = _filtered(base, f)
    counted = _filtered(
        select(func.count())
        .select_from(ReviewRow)
        .join(VerdictRow, VerdictRow.review_id == ReviewRow.id),
        f,
    )
    paged = query.order_by(*_order(f)).limit(f.per_page).offset((f.page - 1) * f.per_page)
    with store.session() as session:
        total = int(session.scalar(counted) or 0)
        rows = session.execute(paged).all()
        flagged = disagreeing(session, [review.id for review, _ in rows])
        items = [
            _item(review, verdict, f.threshold, flagged.get(review.id, []))
            for review, verdict in rows
        ]
    return QueuePage(items, total, f.page, f.per_page)


@dataclass(frozen=True)
class HistoryEntry:
    """One review of a merchant: the engine's decision and the one that stands."""

    review_id: str
    started_at: datetime
    engine: str
    trigger: str
    decision: str | None  # None: no verdict (running or interrupted)
    confidence: float | None
    categories: list[str]
    analyst_decision: str | None
    analyst: str | None

    @property
    def standing(self) -> str | None:
        return self.analyst_decision or self.decision


def _latest_overrides(store: Store, review_ids: list[str]) -> dict[str, OverrideRow]:
    query = select(OverrideRow).where(OverrideRow.review_id.in_(review_ids))
    with store.session() as session:
        return {row.review_id: row for row in session.scalars(query.order_by(OverrideRow.seq))}


def merchant_history(store: Store, merchant_id: str, limit: int = 100) -> list[HistoryEntry]:
    """A merchant's reviews, newest first, with analysts' latest decisions."""
    reviews = store.list_reviews(merchant_id, limit)
    overrides = _latest_overrides(store, [review.id for review, _ in reviews])
    entries = []
    for review, verdict in reviews:
        override = overrides.get(review.id)
        entries.append(
            HistoryEntry(
                review_id=review.id,
                started_at=review.started_at,
                engine=review.engine,
                trigger=review.trigger,
                decision=verdict.decision if verdict else None,
                confidence=verdict.confidence if verdict else None,
                categories=[str(c) for c in verdict.categories] if verdict else [],
                analyst_decision=override.decision if override else None,
                analyst=override.analyst if override else None,
            )
        )
    return entries


def latest_decisions(store: Store, merchant_ids: list[str]) -> dict[str, str]:
    """merchant id -> decision of its latest finished review (no replays)."""
    newest = (
        select(ReviewRow.merchant_id, func.max(ReviewRow.started_at).label("started"))
        .join(VerdictRow, VerdictRow.review_id == ReviewRow.id)
        .where(
            ReviewRow.merchant_id.in_(merchant_ids), ReviewRow.trigger.not_in(NON_ACTING_TRIGGERS)
        )
        .group_by(ReviewRow.merchant_id)
        .subquery()
    )
    query = (
        select(ReviewRow.merchant_id, VerdictRow.decision)
        .join(VerdictRow, VerdictRow.review_id == ReviewRow.id)
        .join(
            newest,
            and_(
                newest.c.merchant_id == ReviewRow.merchant_id,
                newest.c.started == ReviewRow.started_at,
            ),
        )
    )
    with store.session() as session:
        return {str(mid): str(decision) for mid, decision in session.execute(query)}
