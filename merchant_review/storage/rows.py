"""Building audit records from what the review graph reports, personal data scrubbed.

The builders fill in content only: where a record goes in its chain (seq, hashes) is
decided by storage/writes.py under the chain-head lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from merchant_review.audit import AuditEvent, sha256_of, to_jsonable
from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.storage import writes
from merchant_review.storage.blobs import encode, page_content
from merchant_review.storage.privacy import Scrubber
from merchant_review.storage.schema import Chained, CrawlRow, EventRow, PageRow, VerdictRow
from merchant_review.verdict import Verdict


def event_row(event: AuditEvent, scrub: Scrubber, created_at: datetime | None = None) -> EventRow:
    extra = scrub.data(to_jsonable(event.extra)) if event.extra else None
    return EventRow(
        kind=event.kind.value,
        name=event.name,
        input_hash=sha256_of(event.input),  # of the input as given: provable, not readable
        input={"value": scrub.data(to_jsonable(event.input)), "extra": extra},
        output={"value": scrub.data(to_jsonable(event.output))},
        prompt_tokens=event.prompt_tokens,
        completion_tokens=event.completion_tokens,
        latency_ms=event.latency_ms,
        error=scrub.optional_text(event.error),
        created_at=created_at or writes.now(),
    )


def page_rows(session: Session, scrub: Scrubber, pages: Iterable[PageSnapshot]) -> list[Chained]:
    """Fetch details as chain records; content into blobs (stored once per content)."""
    rows: list[Chained] = []
    blobs = []
    for page in pages:
        blob = encode(scrub.data(page_content(page)))
        blobs.append(blob)
        rows.append(
            PageRow(
                url=scrub.text(page.url),
                requested_url=scrub.text(page.requested_url),
                status=page.status,
                content_type=page.content_type,
                raw_sha256=page.raw_sha256,
                content_sha256=blob.sha256,
                bytes=page.bytes,
                truncated=page.truncated,
                depth=page.depth,
                found_via=page.found_via,
                error=scrub.optional_text(page.error),
                fetched_at=page.fetched_at,
            )
        )
    writes.put_blobs(session, blobs)
    return rows


def crawl_rows(session: Session, scrub: Scrubber, report: CrawlReport) -> list[Chained]:
    """The crawl's report (without pages), then its pages."""
    summary = scrub.data(report.model_dump(mode="json", exclude={"pages"}))
    crawl = CrawlRow(start_url=report.start_url, report=summary, created_at=writes.now())
    return [crawl, *page_rows(session, scrub, report.pages)]


def verdict_row(verdict: Verdict, scrub: Scrubber) -> VerdictRow:
    return VerdictRow(
        decided_at=writes.now(),
        decision=verdict.decision.value,
        confidence=verdict.confidence,
        categories=[c.value for c in verdict.categories],
        verdict=scrub.verdict(verdict.model_dump(mode="json")),
        error=scrub.optional_text(verdict.error),
    )
