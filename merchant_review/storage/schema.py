"""The tables: merchant records, and the append-only, hash-chained audit log.

Audit records (reviews, crawls, events, fetched pages, verdicts, overrides, the ledger,
page blobs) are only ever inserted; the migration adds database triggers that refuse
UPDATE and DELETE on them. A correction is a new record that points to the old one (an
override names the record it corrects). Two tables are mutable on purpose: `merchants`
(the processor's records database, re-imported at will) and `chain_heads` (the tip of each
chain: the row writers lock to append, and what `audit verify` checks the chain's length
and last hash against).

Every record of a review carries `seq` (its place in the review's chain: the review row is
0), `prev_hash`, `field_hashes` (a sha256 per content column, so verification can say which
column changed) and `row_hash` over those. `CHAINED` lists the content columns a record's
hash covers; see merchant_review/chain.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Timestamp(TypeDecorator[datetime]):
    """A moment in UTC, aware on the way in and out, on SQLite (naive storage) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _utc(value)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class MerchantRow(Base):
    """A merchant record (mutable: the records database, not the audit log)."""

    __tablename__ = "merchants"

    merchant_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    website: Mapped[str] = mapped_column(Text)
    record: Mapped[dict[str, Any]]
    imported_at: Mapped[datetime] = mapped_column(Timestamp())


class Chained:
    """The columns that put a record in its review's hash chain."""

    CHAINED: ClassVar[tuple[str, ...]]
    if TYPE_CHECKING:  # a column of every record table; on ReviewRow, its own id
        review_id: Any

    seq: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    field_hashes: Mapped[dict[str, Any]]
    row_hash: Mapped[str] = mapped_column(String(64))


class ReviewRow(Chained, Base):
    """One review run: what was reviewed, with which engine, versions and settings."""

    __tablename__ = "reviews"
    CHAINED = (
        "id", "seq", "merchant_id", "website", "started_at", "engine", "model",
        "prompt_version", "corpus_version", "settings_hash", "settings", "record_hash",
        "record", "trigger", "eval_run_id", "batch_run_id", "replay_of",
    )  # fmt: skip

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    merchant_id: Mapped[str | None] = mapped_column(String(200), index=True)
    website: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(Timestamp(), index=True)
    engine: Mapped[str] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_version: Mapped[str | None] = mapped_column(String(64))
    corpus_version: Mapped[str] = mapped_column(String(64))
    settings_hash: Mapped[str] = mapped_column(String(64))
    # The settings that shaped the verdict (no secrets, no database URL): replay needs them.
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    record_hash: Mapped[str | None] = mapped_column(String(64))
    # The merchant record as reviewed, personal fields redacted (its hash covers them all).
    record: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    trigger: Mapped[str] = mapped_column(String(32))
    eval_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    batch_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    replay_of: Mapped[str | None] = mapped_column(ForeignKey("reviews.id"), index=True)

    @hybrid_property
    def review_id(self) -> str:
        """The review a chained record belongs to: for the review row, itself."""
        return self.id


def _review_fk() -> Mapped[str]:
    return mapped_column(ForeignKey("reviews.id"))


class CrawlRow(Chained, Base):
    """What the crawl reported besides its pages (skipped URLs, robots, why it stopped)."""

    __tablename__ = "crawls"
    __table_args__ = (PrimaryKeyConstraint("review_id", "seq"),)
    CHAINED = ("review_id", "seq", "start_url", "report", "created_at")

    review_id: Mapped[str] = _review_fk()
    start_url: Mapped[str] = mapped_column(Text)
    report: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(Timestamp())


class EventRow(Chained, Base):
    """A step, tool call or model call, as it happened."""

    __tablename__ = "review_events"
    __table_args__ = (PrimaryKeyConstraint("review_id", "seq"),)
    CHAINED = (
        "review_id", "seq", "kind", "name", "input_hash", "input", "output", "prompt_tokens",
        "completion_tokens", "latency_ms", "error", "created_at",
    )  # fmt: skip

    review_id: Mapped[str] = _review_fk()
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    input_hash: Mapped[str] = mapped_column(String(64))
    input: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp())


class PageBlobRow(Base):
    """Extracted page content, compressed, stored once per distinct content (by sha256)."""

    __tablename__ = "page_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    codec: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(Timestamp())


class PageRow(Chained, Base):
    """One fetched URL: how it was fetched, and (by hash) what it showed."""

    __tablename__ = "fetched_pages"
    __table_args__ = (PrimaryKeyConstraint("review_id", "seq"),)
    CHAINED = (
        "review_id", "seq", "url", "requested_url", "status", "content_type", "raw_sha256",
        "content_sha256", "bytes", "truncated", "depth", "found_via", "error", "fetched_at",
    )  # fmt: skip

    review_id: Mapped[str] = _review_fk()
    url: Mapped[str] = mapped_column(Text)
    requested_url: Mapped[str] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(200))
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    content_sha256: Mapped[str] = mapped_column(ForeignKey("page_blobs.sha256"), index=True)
    bytes: Mapped[int] = mapped_column(Integer)
    truncated: Mapped[bool] = mapped_column(Boolean)
    depth: Mapped[int] = mapped_column(Integer)
    found_via: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(Timestamp())


class VerdictRow(Chained, Base):
    """The verdict a review reached (one per review)."""

    __tablename__ = "verdicts"
    __table_args__ = (PrimaryKeyConstraint("review_id", "seq"),)
    CHAINED = (
        "review_id", "seq", "decided_at", "decision", "confidence", "categories", "verdict",
        "error",
    )  # fmt: skip

    review_id: Mapped[str] = mapped_column(ForeignKey("reviews.id"), unique=True)
    decided_at: Mapped[datetime] = mapped_column(Timestamp())
    decision: Mapped[str] = mapped_column(String(20), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    categories: Mapped[list[Any]]
    verdict: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(Text)


class OverrideRow(Chained, Base):
    """An analyst's decision on a review; `corrects_seq` is the record it corrects."""

    __tablename__ = "overrides"
    __table_args__ = (PrimaryKeyConstraint("review_id", "seq"),)
    CHAINED = (
        "review_id", "seq", "corrects_seq", "analyst", "decision", "categories", "reason",
        "created_at",
    )  # fmt: skip

    review_id: Mapped[str] = _review_fk()
    corrects_seq: Mapped[int] = mapped_column(Integer)
    analyst: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(20))
    # None: the verdict's categories stand; a list replaces them.
    categories: Mapped[list[Any] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp())


class LedgerRow(Base):
    """The chain over reviews: one entry per review start, verdict and override, in order.

    Each entry commits to the review-chain record it seals (`record_hash`) and to the
    previous entry, so the reviews' chains are tied into one linear history.
    """

    __tablename__ = "audit_ledger"

    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    review_id: Mapped[str] = mapped_column(ForeignKey("reviews.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    record_seq: Mapped[int] = mapped_column(Integer)
    record_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp(), index=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class ChainHeadRow(Base):
    """The tip of one chain (a review's, or LEDGER_CHAIN): its length and last hash."""

    __tablename__ = "chain_heads"

    chain_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    length: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))


# Reviews whose verdict never acts: replays re-run old evidence; shadow reviews are a
# challenger configuration's (merchant_review/experiments). Neither is a merchant's current
# verdict, a batch's previous review, a prior review an assessor sees, or queued.
NON_ACTING_TRIGGERS = ("replay", "shadow")

LEDGER_CHAIN = "ledger"  # chain_heads row of the chain over reviews (made by the migration)

# Record tables of a review's chain, in the order `show` and verification name them.
CHAINED_TABLES: tuple[type[Chained], ...] = (
    ReviewRow, CrawlRow, EventRow, PageRow, VerdictRow, OverrideRow,
)  # fmt: skip

# Tables the database refuses to UPDATE or DELETE in (triggers made by the migration).
APPEND_ONLY_TABLES = (
    "reviews", "crawls", "review_events", "page_blobs", "fetched_pages", "verdicts",
    "overrides", "audit_ledger",
)  # fmt: skip
