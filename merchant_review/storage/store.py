"""The Store: merchant records and the audit log behind one object, on SQLite or PostgreSQL.

Opening a Store applies the schema rule of merchant_review/storage/migrate.py (an empty
database is created; an outdated, foreign or damaged one is refused with a StorageError).
Every method is one transaction: it writes everything or nothing. Audit writes append to
the review's hash chain (merchant_review/chain.py) and scrub the merchant's personal data
(merchant_review/storage/privacy.py) before anything reaches the database.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from merchant_review.audit import AuditEvent, sha256_of, to_jsonable
from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.records import MerchantRecord
from merchant_review.storage import rows, writes
from merchant_review.storage.engine import WRITE, make_engine
from merchant_review.storage.errors import (
    InvalidOverride,
    StorageError,
    UnknownReview,
    describe_db_error,
)
from merchant_review.storage.migrate import ensure_schema
from merchant_review.storage.overrides import override_categories
from merchant_review.storage.pending import ReviewCache, RowMaker
from merchant_review.storage.privacy import Scrubber
from merchant_review.storage.reads import (
    StoredReview,
    find_review,
    load_review,
    merchant_record,
    prior_reviews,
)
from merchant_review.storage.schema import (
    LEDGER_CHAIN,
    Chained,
    ChainHeadRow,
    MerchantRow,
    OverrideRow,
    ReviewRow,
    VerdictRow,
)
from merchant_review.taxonomy import Category, Decision
from merchant_review.verdict import Verdict

# Built once, on the table (no ORM compile step): whether a review already has its
# verdict (asked at every finish_review).
_VERDICTS: Table = VerdictRow.__table__  # type: ignore[assignment]
_VERDICT_OF = select(_VERDICTS.c.seq).where(_VERDICTS.c.review_id == bindparam("review_id"))


class Store:
    """Merchant records and the audit log.

    `create=False` refuses an empty database instead of creating its schema.
    """

    def __init__(self, database_url: str, *, create: bool = True) -> None:
        self.url = database_url
        self.engine = make_engine(database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(self.engine.execution_options(**WRITE), expire_on_commit=False)
        self._cache = ReviewCache()  # scrubbers and deferred records of running reviews
        try:
            ensure_schema(self.engine, create=create)
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read transaction (rows come back detached, usable after it ends)."""
        with self._transaction(self._sessions) as session:
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), database errors as StorageError.

        For tables outside the audit log (e.g. the web app's accounts). Audit records go
        through the methods below: they are chained, sealed and scrubbed there, and the
        database refuses to change them afterwards.
        """
        with self._transaction(self._writes) as session:
            yield session

    @contextmanager
    def _transaction(self, sessions: sessionmaker[Session]) -> Iterator[Session]:
        try:
            with sessions.begin() as session:
                yield session
        except DBAPIError as exc:
            raise describe_db_error(exc, self.engine.url) from exc

    # -- merchant records ------------------------------------------------------------------

    def import_merchants(self, records: Iterable[MerchantRecord]) -> int:
        """Insert or replace records; one transaction, so a bad batch writes nothing."""
        count = 0
        with self.write_session() as session:
            for record in records:
                session.merge(
                    MerchantRow(
                        merchant_id=record.merchant_id,
                        website=record.website,
                        record=record.model_dump(mode="json", exclude_none=True),
                        imported_at=writes.now(),
                    )
                )
                count += 1
        self._cache.forget_scrubbers()  # later audit writes scrub with the new records
        return count

    def get_merchant(self, merchant_id: str) -> MerchantRecord | None:
        with self.session() as session:
            return merchant_record(session, merchant_id)

    def list_merchants(self, limit: int = 100, offset: int = 0) -> list[MerchantRecord]:
        with self.session() as session:
            rows = session.scalars(
                select(MerchantRow).order_by(MerchantRow.merchant_id).limit(limit).offset(offset)
            )
            return [MerchantRecord.model_validate(row.record) for row in rows]

    def count_merchants(self) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(MerchantRow)) or 0)

    # -- writing the audit log -------------------------------------------------------------

    def start_review(
        self,
        *,
        merchant: MerchantRecord | None,
        website: str,
        engine: str,
        model: str | None,
        prompt_version: str | None,
        corpus_version: str,
        settings_hash: str,
        settings: dict[str, Any] | None = None,
        trigger: str = "cli",
        eval_run_id: str | None = None,
        batch_run_id: str | None = None,
        replay_of: str | None = None,
    ) -> str:
        """Open a review in the audit log; returns its id.

        `settings` (what settings_fingerprint hashes) is kept so the review can be replayed.
        The merchant record is kept with its personal fields redacted; `record_hash` covers
        the whole record.
        """
        review = ReviewRow(
            id=uuid.uuid4().hex,
            merchant_id=merchant.merchant_id if merchant else None,
            website=website,
            started_at=writes.now(),
            engine=engine,
            model=model,
            prompt_version=prompt_version,
            corpus_version=corpus_version,
            settings_hash=settings_hash,
            settings=to_jsonable(settings),
            record_hash=sha256_of(merchant.fields(include_personal=True)) if merchant else None,
            record=Scrubber(None).data(merchant.fields(include_personal=True))
            if merchant
            else None,
            trigger=trigger,
            eval_run_id=eval_run_id,
            batch_run_id=batch_run_id,
            replay_of=replay_of,
        )
        with self.write_session() as session:
            writes.open_review(session, review)
            scrub = _record_scrubber(session, review.merchant_id)
        self._cache.keep_scrubber(review.id, scrub)  # the review's later writes reuse it
        return review.id

    def _scrubber(self, session: Session, review_id: str) -> Scrubber:
        """Scrubs the personal data of the review's merchant, as the records DB holds it.

        Built when the review starts and kept (pending.py); built again from the rows when
        this Store did not start the review (another process, or after eviction).
        """
        cached = self._cache.scrubber(review_id)
        if cached is not None:
            return cached
        review = session.get(ReviewRow, review_id)
        if review is None:
            raise UnknownReview(f"no review {review_id!r} in the audit log")
        scrub = _record_scrubber(session, review.merchant_id)
        self._cache.keep_scrubber(review_id, scrub)
        return scrub

    def _append(
        self, review_id: str, make_rows: RowMaker, *, ledger_kind: str | None = None
    ) -> list[Chained]:
        """Build rows with the review's scrubber, then append them, in one transaction.

        The review's deferred records go first, in the same transaction; if it fails they
        are held again for the next write.
        """
        deferred = self._cache.take(review_id)
        try:
            with self.write_session() as session:
                scrub = self._scrubber(session, review_id)
                head = writes.locked_review_head(session, review_id)  # make_rows sees the end
                earlier = [row for maker in deferred for row in maker(session, scrub)]
                made = make_rows(session, scrub)
                kind = ledger_kind if made else None  # the ledger seals this write's last row
                writes.append(session, review_id, [*earlier, *made], ledger_kind=kind, head=head)
        except BaseException:
            self._cache.give_back(review_id, deferred)
            raise
        return made

    def defer_event(self, review_id: str, event: AuditEvent) -> None:
        """Record a step with the review's next write instead of a write of its own.

        Its content and time are taken now; see merchant_review/storage/pending.py for when
        it reaches the database (`flush` forces it).
        """
        created_at = writes.now()
        taken = dataclasses.replace(
            event,
            input=to_jsonable(event.input),
            output=to_jsonable(event.output),
            extra=to_jsonable(event.extra),
        )
        self._cache.defer(
            review_id, lambda _session, scrub: [rows.event_row(taken, scrub, created_at)]
        )

    def defer_crawl(self, review_id: str, report: CrawlReport) -> None:
        """`save_crawl`, written with the review's next write (see defer_event)."""
        self._cache.defer(review_id, lambda session, scrub: rows.crawl_rows(session, scrub, report))

    def flush(self, review_id: str) -> None:
        """Write the review's deferred records now, in one transaction (none: no write)."""
        if self._cache.has_pending(review_id):
            self._append(review_id, lambda _session, _scrub: [])

    def record_event(self, review_id: str, event: AuditEvent) -> None:
        """Append a step, tool call or model call (personal data scrubbed)."""
        self._append(review_id, lambda _session, scrub: [rows.event_row(event, scrub)])

    def save_crawl(self, review_id: str, report: CrawlReport) -> None:
        """Store what the crawl reported and the pages it fetched (replay serves them)."""
        self._append(review_id, lambda session, scrub: rows.crawl_rows(session, scrub, report))

    def save_pages(self, review_id: str, pages: Iterable[PageSnapshot]) -> None:
        """Store fetched pages: content in deduplicated blobs, fetch details in the chain."""
        pages = list(pages)
        if pages:
            self._append(review_id, lambda session, scrub: rows.page_rows(session, scrub, pages))

    def finish_review(self, review_id: str, verdict: Verdict) -> None:
        """Store the verdict and seal the review in the ledger (once per review)."""

        def make(session: Session, scrub: Scrubber) -> list[Chained]:
            done = session.scalar(_VERDICT_OF, {"review_id": review_id})
            if done is not None:
                raise StorageError(f"review {review_id} already has a verdict")
            return [rows.verdict_row(verdict, scrub)]

        self._append(review_id, make, ledger_kind="verdict")
        self._cache.forget(review_id)  # sealed: this process writes nothing more for it

    def add_override(
        self,
        review_id: str,
        *,
        decision: Decision,
        reason: str,
        analyst: str,
        categories: Sequence[Category] | None = None,
    ) -> OverrideRow:
        """Record an analyst's decision on a finished review; the verdict stays as it was.

        `review_id` may be a unique prefix. `categories` None keeps the verdict's (see
        merchant_review/overrides.py for the rules a label must obey).
        """
        if not reason.strip() or not analyst.strip():
            raise InvalidOverride("an override needs a reason and the analyst's name")
        with self.write_session() as session:
            review = find_review(session, review_id)
            if review is None:
                raise UnknownReview(f"no review {review_id!r} (or the prefix is ambiguous)")
            head = writes.locked_review_head(session, review.id)  # no other override slips in
            stored = load_review(session, review)
            if stored.verdict is None:
                raise InvalidOverride(f"review {review.id} has no verdict yet: nothing to override")
            override_categories(decision, categories, map(Category, stored.verdict.categories))
            corrects = stored.overrides[-1] if stored.overrides else stored.verdict
            row = OverrideRow(
                corrects_seq=corrects.seq,
                analyst=analyst.strip(),
                decision=decision.value,
                categories=None if categories is None else sorted(c.value for c in categories),
                reason=reason.strip(),
                created_at=writes.now(),
            )
            writes.append(session, review.id, [row], ledger_kind="override", head=head)
        return row

    # -- reading the audit log -------------------------------------------------------------

    def get_review(self, review_id: str) -> StoredReview | None:
        """A review with everything recorded about it; `review_id` may be a unique prefix."""
        with self.session() as session:
            review = find_review(session, review_id)
            return load_review(session, review) if review else None

    def list_reviews(
        self, merchant_id: str | None = None, limit: int = 50, *, since: datetime | None = None
    ) -> list[tuple[ReviewRow, VerdictRow | None]]:
        """Reviews, newest first, with their verdicts (None while running or interrupted)."""
        with self.session() as session:
            query = select(ReviewRow, VerdictRow).outerjoin(
                VerdictRow, VerdictRow.review_id == ReviewRow.id
            )
            if merchant_id is not None:
                query = query.where(ReviewRow.merchant_id == merchant_id)
            if since is not None:
                query = query.where(ReviewRow.started_at >= since)
            rows = session.execute(query.order_by(ReviewRow.started_at.desc()).limit(limit))
            return [(review, verdict) for review, verdict in rows]

    def prior_reviews(
        self, merchant_id: str, limit: int = 5, *, before: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Completed reviews of a merchant, newest first, as the records tool reports them.

        Replays are left out (they re-run old evidence); `before` keeps only reviews decided
        before then (replay uses it to show the history the original review saw).
        """
        with self.session() as session:
            return prior_reviews(session, merchant_id, limit, before)

    def overridden_review_ids(self) -> list[str]:
        """Ids of reviews that have at least one analyst override, oldest first."""
        with self.session() as session:
            query = (
                select(ReviewRow.id)
                .where(ReviewRow.id.in_(select(OverrideRow.review_id)))
                .order_by(ReviewRow.started_at, ReviewRow.id)
            )
            return list(session.scalars(query))

    def ledger_head(self) -> tuple[int, str]:
        """(entries, last entry hash) of the chain over reviews: publish it to anchor it."""
        with self.session() as session:
            head = session.get(ChainHeadRow, LEDGER_CHAIN)
            return (head.length, head.head_hash) if head else (0, "")


def _record_scrubber(session: Session, merchant_id: str | None) -> Scrubber:
    return Scrubber(merchant_record(session, merchant_id) if merchant_id else None)


class ReviewAudit:
    """The AuditSink of one review: events go straight to the audit log."""

    def __init__(self, store: Store, review_id: str) -> None:
        self.store = store
        self.review_id = review_id

    def record(self, event: AuditEvent) -> None:
        self.store.record_event(self.review_id, event)
