"""The batch tables: runs, their items, and snapshots of the policy corpus versions used.

They live on the storage package's metadata (`Base`), so the schema check and Alembic see
them; the migration that creates them is merchant_review/migrations/versions/r0003_batch.py.
Unlike the audit tables they are mutable: an item moves pending → claimed → reviewed |
carried | failed as workers claim and finish it. What a review found stays in the audit
log; an item only points at the review that holds its verdict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from merchant_review.storage.schema import Base, Timestamp

# Item states. CLAIMED items carry a lease; the others (but PENDING) are final.
PENDING = "pending"
CLAIMED = "claimed"
REVIEWED = "reviewed"  # a review of this run holds the verdict
CARRIED = "carried"  # unchanged since the previous review: its verdict carried forward
FAILED = "failed"
FINAL_STATES = (REVIEWED, CARRIED, FAILED)


class BatchRunRow(Base):
    """One batch run: what was selected, with which versions and options."""

    __tablename__ = "batch_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp())
    engine: Mapped[str] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_version: Mapped[str | None] = mapped_column(String(64))
    corpus_version: Mapped[str] = mapped_column(String(64))
    selection: Mapped[dict[str, Any]] = mapped_column(JSON)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer)


class BatchItemRow(Base):
    """One merchant of a run; claimed atomically by one worker at a time (lease)."""

    __tablename__ = "batch_items"
    __table_args__ = (
        Index("ix_batch_items_run_id_status_position", "run_id", "status", "position"),
    )

    run_id: Mapped[str] = mapped_column(ForeignKey("batch_runs.id"), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(Timestamp())
    attempts: Mapped[int] = mapped_column(Integer)  # claims so far
    failures: Mapped[int] = mapped_column(Integer)  # attempts that raised
    review_id: Mapped[str | None] = mapped_column(String(32))  # holds the item's verdict
    decision: Mapped[str | None] = mapped_column(String(20))
    previous_review_id: Mapped[str | None] = mapped_column(String(32))
    previous_decision: Mapped[str | None] = mapped_column(String(20))
    site_hash: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp())


class CorpusVersionRow(Base):
    """The rules of one policy corpus version, kept so later versions can be diffed."""

    __tablename__ = "corpus_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    # rule id -> {"sha256": hash of the rule's content, "category": ..., "rule": the rule}
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
