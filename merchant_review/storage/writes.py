"""Appending to the audit log: records to a review's chain, seals to the ledger, blobs.

Every function here runs inside the caller's write transaction. Appending locks the chain
head first (SELECT ... FOR UPDATE on PostgreSQL; on SQLite the transaction began with
BEGIN IMMEDIATE and already holds the write lock), so concurrent writers to one review or
to the ledger queue up and each sees the head the previous one left. Locks are always
taken in the same order, review chain then ledger, so two writers cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from merchant_review.chain import entry_hash, seal
from merchant_review.storage.blobs import EncodedContent
from merchant_review.storage.errors import StorageError, UnknownReview
from merchant_review.storage.schema import (
    LEDGER_CHAIN,
    Chained,
    ChainHeadRow,
    LedgerRow,
    PageBlobRow,
    ReviewRow,
)


def now() -> datetime:
    return datetime.now(UTC)


# Built once: every audit write runs it, and building a statement costs more than running it.
_LOCKED_HEAD = (
    select(ChainHeadRow).where(ChainHeadRow.chain_id == bindparam("chain_id")).with_for_update()
)


def locked_head(session: Session, chain_id: str) -> ChainHeadRow | None:
    """The chain's head row, locked until the transaction ends (None: no such chain)."""
    return session.scalars(_LOCKED_HEAD, {"chain_id": chain_id}).one_or_none()


def _ledger(session: Session, review_id: str, kind: str, record: Chained) -> None:
    head = locked_head(session, LEDGER_CHAIN)
    if head is None:  # made by the migration: its absence means a damaged schema
        raise StorageError("the audit ledger has no head row: the schema is damaged")
    entry = LedgerRow(
        position=head.length + 1,
        review_id=review_id,
        kind=kind,
        record_seq=record.seq,
        record_hash=record.row_hash,
        created_at=now(),
        prev_hash=head.head_hash,
    )
    entry.entry_hash = entry_hash(entry)
    session.add(entry)
    head.length, head.head_hash = entry.position, entry.entry_hash


def open_review(session: Session, review: ReviewRow) -> None:
    """Start a review's chain with its review row (#0), and enter it in the ledger."""
    seal(review, 0, "")
    session.add(review)
    session.add(ChainHeadRow(chain_id=review.id, length=1, head_hash=review.row_hash))
    session.flush()  # the ledger entry refers to the review row
    _ledger(session, review.id, "review", review)


def locked_review_head(session: Session, review_id: str) -> ChainHeadRow:
    """The review's chain head, locked; UnknownReview when there is no such review."""
    head = locked_head(session, review_id)
    if head is None:
        raise UnknownReview(f"no review {review_id!r} in the audit log")
    return head


def append(
    session: Session,
    review_id: str,
    rows: list[Chained],
    *,
    ledger_kind: str | None = None,
    head: ChainHeadRow | None = None,
) -> None:
    """Add records to the end of a review's chain; `ledger_kind` also seals the last one.

    `head`: the chain head this transaction already locked (saves reading it again).
    """
    head = head or locked_review_head(session, review_id)
    for row in rows:
        row.review_id = review_id
        seal(row, head.length, head.head_hash)
        session.add(row)
        head.length, head.head_hash = head.length + 1, row.row_hash
    if ledger_kind is not None and rows:
        session.flush()
        _ledger(session, review_id, ledger_kind, rows[-1])


# Built once per dialect: a crawl stores several blobs in each review.
_PUT_BLOBS = {
    name: insert(PageBlobRow).on_conflict_do_nothing(index_elements=["sha256"])
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def put_blobs(session: Session, blobs: Iterable[EncodedContent]) -> None:
    """Store page content once: a blob already there (same sha256) is left as it is."""
    at = now()
    values = {
        blob.sha256: {
            "sha256": blob.sha256,
            "codec": blob.codec,
            "size": blob.size,
            "data": blob.data,
            "created_at": at,
        }
        for blob in blobs
    }
    if values:  # one statement for them all (executemany)
        session.execute(_PUT_BLOBS[session.get_bind().dialect.name], list(values.values()))
