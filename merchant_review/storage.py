"""The SQL store: merchant records and the audit log, behind one module (SQLAlchemy 2).

SQLite is the embedded default; PostgreSQL in production: same code, one database URL.
Audit rows are only ever inserted: a review row when it starts, event and page rows as
they happen, a verdict row when it ends (also when it fails midway).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from merchant_review.audit import AuditEvent, redact, sha256_of, to_jsonable
from merchant_review.pages import PageSnapshot
from merchant_review.records import PERSONAL_FIELDS, MerchantRecord
from merchant_review.verdict import Verdict


def _now() -> datetime:
    return datetime.now(UTC)


class StorageError(Exception):
    """The database cannot be used; the message says why."""


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class MerchantRow(Base):
    __tablename__ = "merchants"

    merchant_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    website: Mapped[str] = mapped_column(Text)
    record: Mapped[dict[str, Any]]
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReviewRow(Base):
    __tablename__ = "reviews"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    merchant_id: Mapped[str | None] = mapped_column(String(200), index=True)
    website: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    engine: Mapped[str] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_version: Mapped[str | None] = mapped_column(String(64))
    corpus_version: Mapped[str] = mapped_column(String(64))
    settings_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str | None] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(32), default="cli")
    eval_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    batch_run_id: Mapped[str | None] = mapped_column(String(64), index=True)


class VerdictRow(Base):
    __tablename__ = "verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(ForeignKey("reviews.id"), unique=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    decision: Mapped[str] = mapped_column(String(20), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    categories: Mapped[list[Any]]
    verdict: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(Text)


class EventRow(Base):
    __tablename__ = "review_events"
    __table_args__ = (UniqueConstraint("review_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(ForeignKey("reviews.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    input_hash: Mapped[str] = mapped_column(String(64))
    input: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class PageRow(Base):
    __tablename__ = "fetched_pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(ForeignKey("reviews.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    requested_url: Mapped[str] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(200))
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    hidden_text: Mapped[str] = mapped_column(Text, default="")
    snapshot: Mapped[dict[str, Any]]
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass
class StoredReview:
    review: ReviewRow
    verdict: VerdictRow | None
    events: list[EventRow]
    pages: list[PageRow]

    def parsed_verdict(self) -> Verdict | None:
        return Verdict.model_validate(self.verdict.verdict) if self.verdict else None

    def page_snapshots(self) -> list[PageSnapshot]:
        return [PageSnapshot.model_validate(page.snapshot) for page in self.pages]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (web page, `show`) run beside a writing review; the busy timeout
    # turns a briefly locked file into a wait rather than an error.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(database_url: str) -> Engine:
    try:
        engine = create_engine(database_url, pool_pre_ping=True)
    except (ArgumentError, ImportError, ValueError) as exc:
        raise StorageError(f"invalid database URL {database_url!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Store:
    """Merchant records and the audit log."""

    def __init__(self, database_url: str, *, create: bool = True) -> None:
        self.url = database_url
        self.engine = make_engine(database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if create:
            self.init_schema()

    def init_schema(self) -> None:
        try:
            Base.metadata.create_all(self.engine)
        except (OperationalError, DatabaseError) as exc:
            raise StorageError(f"cannot open database {self.engine.url!r}: {exc.orig}") from exc

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as exc:
            raise StorageError(f"database error on {self.engine.url!r}: {exc.orig}") from exc

    # -- merchant records ------------------------------------------------------------------

    def import_merchants(self, records: Iterable[MerchantRecord]) -> int:
        """Insert or replace records; one transaction, so a bad batch writes nothing."""
        count = 0
        with self.session() as session:
            for record in records:
                session.merge(
                    MerchantRow(
                        merchant_id=record.merchant_id,
                        website=record.website,
                        record=record.model_dump(mode="json", exclude_none=True),
                        imported_at=_now(),
                    )
                )
                count += 1
        return count

    def get_merchant(self, merchant_id: str) -> MerchantRecord | None:
        with self.session() as session:
            row = session.get(MerchantRow, merchant_id)
            return MerchantRecord.model_validate(row.record) if row else None

    def list_merchants(self, limit: int = 100, offset: int = 0) -> list[MerchantRecord]:
        with self.session() as session:
            rows = session.scalars(
                select(MerchantRow).order_by(MerchantRow.merchant_id).limit(limit).offset(offset)
            )
            return [MerchantRecord.model_validate(row.record) for row in rows]

    def count_merchants(self) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(MerchantRow)) or 0)

    # -- the audit log ---------------------------------------------------------------------

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
        trigger: str = "cli",
        eval_run_id: str | None = None,
        batch_run_id: str | None = None,
    ) -> str:
        review_id = uuid.uuid4().hex
        with self.session() as session:
            session.add(
                ReviewRow(
                    id=review_id,
                    merchant_id=merchant.merchant_id if merchant else None,
                    website=website,
                    started_at=_now(),
                    engine=engine,
                    model=model,
                    prompt_version=prompt_version,
                    corpus_version=corpus_version,
                    settings_hash=settings_hash,
                    record_hash=sha256_of(merchant.fields(include_personal=True))
                    if merchant
                    else None,
                    trigger=trigger,
                    eval_run_id=eval_run_id,
                    batch_run_id=batch_run_id,
                )
            )
        return review_id

    def record_event(self, review_id: str, event: AuditEvent) -> None:
        payload_in = redact(to_jsonable(event.input), PERSONAL_FIELDS)
        payload_out = redact(to_jsonable(event.output), PERSONAL_FIELDS)
        extra = redact(to_jsonable(event.extra), PERSONAL_FIELDS) if event.extra else None
        with self.session() as session:
            seq = session.scalar(
                select(func.coalesce(func.max(EventRow.seq), 0)).where(
                    EventRow.review_id == review_id
                )
            )
            session.add(
                EventRow(
                    review_id=review_id,
                    seq=int(seq or 0) + 1,
                    kind=event.kind.value,
                    name=event.name,
                    input_hash=sha256_of(event.input),
                    input={"value": payload_in, "extra": extra},
                    output={"value": payload_out},
                    prompt_tokens=event.prompt_tokens,
                    completion_tokens=event.completion_tokens,
                    latency_ms=event.latency_ms,
                    error=event.error,
                    created_at=_now(),
                )
            )

    def save_pages(self, review_id: str, pages: Iterable[PageSnapshot]) -> None:
        with self.session() as session:
            for page in pages:
                session.add(
                    PageRow(
                        review_id=review_id,
                        url=page.url,
                        requested_url=page.requested_url,
                        status=page.status,
                        content_type=page.content_type,
                        raw_sha256=page.raw_sha256,
                        title=page.title,
                        text=page.text,
                        hidden_text=page.hidden_text,
                        snapshot=page.model_dump(mode="json"),
                        bytes=page.bytes,
                        truncated=page.truncated,
                        error=page.error,
                        fetched_at=page.fetched_at,
                    )
                )

    def finish_review(self, review_id: str, verdict: Verdict) -> None:
        with self.session() as session:
            session.add(
                VerdictRow(
                    review_id=review_id,
                    decided_at=_now(),
                    decision=verdict.decision.value,
                    confidence=verdict.confidence,
                    categories=[c.value for c in verdict.categories],
                    verdict=verdict.model_dump(mode="json"),
                    error=verdict.error,
                )
            )

    def get_review(self, review_id: str) -> StoredReview | None:
        with self.session() as session:
            review = session.get(ReviewRow, review_id)
            if review is None:
                matches = list(
                    session.scalars(select(ReviewRow).where(ReviewRow.id.startswith(review_id)))
                )
                if len(matches) != 1:
                    return None
                review = matches[0]
            verdict = session.scalar(select(VerdictRow).where(VerdictRow.review_id == review.id))
            events = list(
                session.scalars(
                    select(EventRow).where(EventRow.review_id == review.id).order_by(EventRow.seq)
                )
            )
            pages = list(
                session.scalars(
                    select(PageRow).where(PageRow.review_id == review.id).order_by(PageRow.id)
                )
            )
            return StoredReview(review, verdict, events, pages)

    def list_reviews(
        self, merchant_id: str | None = None, limit: int = 50
    ) -> list[tuple[ReviewRow, VerdictRow | None]]:
        with self.session() as session:
            query = select(ReviewRow, VerdictRow).outerjoin(
                VerdictRow, VerdictRow.review_id == ReviewRow.id
            )
            if merchant_id is not None:
                query = query.where(ReviewRow.merchant_id == merchant_id)
            rows = session.execute(query.order_by(ReviewRow.started_at.desc()).limit(limit))
            return [(review, verdict) for review, verdict in rows]

    def prior_reviews(self, merchant_id: str, limit: int = 5) -> list[dict[str, Any]]:
        """Completed reviews of a merchant, newest first, as the records tool reports them."""
        return [
            {
                "review_id": review.id,
                "started_at": review.started_at.isoformat(),
                "engine": review.engine,
                "decision": verdict.decision,
                "categories": verdict.categories,
                "confidence": verdict.confidence,
            }
            for review, verdict in self.list_reviews(merchant_id, limit)
            if verdict is not None
        ]


class ReviewAudit:
    """The AuditSink of one review: events go straight to the audit log."""

    def __init__(self, store: Store, review_id: str) -> None:
        self.store = store
        self.review_id = review_id

    def record(self, event: AuditEvent) -> None:
        self.store.record_event(self.review_id, event)
