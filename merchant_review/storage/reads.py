"""Reading a review back: its rows, page content and the decision that stands."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.records import MerchantRecord
from merchant_review.storage.blobs import decode
from merchant_review.storage.errors import StorageError
from merchant_review.storage.overrides import FinalDecision, override_categories
from merchant_review.storage.schema import (
    NON_ACTING_TRIGGERS,
    CrawlRow,
    EventRow,
    MerchantRow,
    OverrideRow,
    PageBlobRow,
    PageRow,
    ReviewRow,
    VerdictRow,
)
from merchant_review.taxonomy import Category, Decision
from merchant_review.verdict import Verdict


@dataclass
class StoredReview:
    """A review as the audit log holds it (rows detached from their session)."""

    review: ReviewRow
    verdict: VerdictRow | None
    events: list[EventRow]
    pages: list[PageRow]
    overrides: list[OverrideRow] = field(default_factory=list)
    crawl: CrawlRow | None = None
    contents: dict[str, dict[str, Any]] = field(default_factory=dict)  # page content by sha256

    def parsed_verdict(self) -> Verdict | None:
        return Verdict.model_validate(self.verdict.verdict) if self.verdict else None

    def page_snapshots(self) -> list[PageSnapshot]:
        """Every stored page, as the review saw it, in the order it was fetched."""
        return [_snapshot(page, self.contents.get(page.content_sha256, {})) for page in self.pages]

    def crawl_report(self) -> CrawlReport | None:
        """The crawl as reported, with every stored page (agent fetches included)."""
        if self.crawl is None:
            return None
        return CrawlReport.model_validate({**self.crawl.report, "pages": self.page_snapshots()})

    def final_decision(self) -> FinalDecision | None:
        """The verdict's decision, or the latest override's; None without a verdict."""
        if self.verdict is None:
            return None
        return standing_decision(self.verdict, self.overrides[-1] if self.overrides else None)


def standing_decision(verdict: VerdictRow, latest: OverrideRow | None) -> FinalDecision:
    """The decision that stands on a verdict given its latest override (None: none)."""
    engine = Decision(verdict.decision)
    verdict_categories = [Category(c) for c in verdict.categories]
    if latest is None:
        return FinalDecision(engine, verdict_categories, engine)
    decision = Decision(latest.decision)
    given = None if latest.categories is None else [Category(c) for c in latest.categories]
    categories = override_categories(decision, given, verdict_categories)
    return FinalDecision(decision, categories, engine, analyst=latest.analyst)


def _snapshot(page: PageRow, content: dict[str, Any]) -> PageSnapshot:
    return PageSnapshot.model_validate(
        {
            **content,
            "url": page.url,
            "requested_url": page.requested_url,
            "status": page.status,
            "content_type": page.content_type,
            "raw_sha256": page.raw_sha256,
            "bytes": page.bytes,
            "truncated": page.truncated,
            "depth": page.depth,
            "found_via": page.found_via,
            "error": page.error,
            "fetched_at": page.fetched_at,
        }
    )


def find_review(session: Session, review_id: str) -> ReviewRow | None:
    """The review with this id, or the only one whose id starts with it."""
    review = session.get(ReviewRow, review_id)
    if review is not None or not review_id:
        return review
    query = select(ReviewRow).where(ReviewRow.id.startswith(review_id, autoescape=True)).limit(2)
    matches = list(session.scalars(query))
    return matches[0] if len(matches) == 1 else None


_Record = TypeVar("_Record", CrawlRow, EventRow, PageRow, OverrideRow)


def _rows(session: Session, table: type[_Record], review_id: str) -> list[_Record]:
    query = select(table).where(table.review_id == review_id).order_by(table.seq)
    return list(session.scalars(query))


def load_review(session: Session, review: ReviewRow) -> StoredReview:
    pages = _rows(session, PageRow, review.id)
    shas = {page.content_sha256 for page in pages}
    blobs = session.scalars(select(PageBlobRow).where(PageBlobRow.sha256.in_(shas)))
    crawls = _rows(session, CrawlRow, review.id)
    return StoredReview(
        review=review,
        verdict=session.scalars(
            select(VerdictRow).where(VerdictRow.review_id == review.id)
        ).one_or_none(),
        events=_rows(session, EventRow, review.id),
        pages=pages,
        overrides=_rows(session, OverrideRow, review.id),
        crawl=crawls[0] if crawls else None,
        contents={blob.sha256: _content(blob) for blob in blobs},
    )


def _content(blob: PageBlobRow) -> dict[str, Any]:
    try:
        return decode(blob.codec, blob.data)
    except (ValueError, zlib.error) as exc:  # JSONDecodeError is a ValueError
        raise StorageError(
            f"stored page content {blob.sha256[:16]} is corrupt ({exc}): "
            "run `merchant-review audit verify`"
        ) from exc


def prior_reviews(
    session: Session, merchant_id: str, limit: int, before: datetime | None
) -> list[dict[str, Any]]:
    """A merchant's completed reviews (no replays), newest first, decided before `before`."""
    query = (
        select(ReviewRow, VerdictRow)
        .join(VerdictRow, VerdictRow.review_id == ReviewRow.id)
        .where(ReviewRow.merchant_id == merchant_id, ReviewRow.trigger.not_in(NON_ACTING_TRIGGERS))
    )
    if before is not None:
        query = query.where(VerdictRow.decided_at < before)
    found = list(session.execute(query.order_by(ReviewRow.started_at.desc()).limit(limit)))
    analyst = _latest_overrides(session, [review.id for review, _ in found], before)
    return [_prior(review, verdict, analyst.get(review.id)) for review, verdict in found]


def _latest_overrides(
    session: Session, review_ids: list[str], before: datetime | None
) -> dict[str, str]:
    """review id -> the decision of its latest override (made before `before`)."""
    query = select(OverrideRow).where(OverrideRow.review_id.in_(review_ids))
    if before is not None:
        query = query.where(OverrideRow.created_at < before)
    return {row.review_id: row.decision for row in session.scalars(query.order_by(OverrideRow.seq))}


def _prior(review: ReviewRow, verdict: VerdictRow, analyst_decision: str | None) -> dict[str, Any]:
    prior: dict[str, Any] = {
        "review_id": review.id,
        "started_at": review.started_at.isoformat(),
        "engine": review.engine,
        "decision": verdict.decision,
        "categories": verdict.categories,
        "confidence": verdict.confidence,
    }
    if analyst_decision is not None:
        prior["analyst_decision"] = analyst_decision
    return prior


# Built once, on the table: every review reads its merchant's record twice (the batch and
# the audit scrubber), and loading the whole ORM row (identity map, every column) cost
# several times the query.
_MERCHANTS: Table = MerchantRow.__table__  # type: ignore[assignment]
_RECORD_OF = select(_MERCHANTS.c.record).where(_MERCHANTS.c.merchant_id == bindparam("merchant"))


def merchant_record(session: Session, merchant_id: str) -> MerchantRecord | None:
    """A merchant's record as imported (None: not in the records database)."""
    record = session.execute(_RECORD_OF, {"merchant": merchant_id}).scalar_one_or_none()
    return MerchantRecord.model_validate(record) if record is not None else None
