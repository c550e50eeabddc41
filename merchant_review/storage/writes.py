"""Appending to the audit log: records to a review's chain, seals to the ledger, blobs.

Every function here runs inside the caller's write transaction. Appending locks the chain
head first (SELECT ... FOR UPDATE on PostgreSQL; on SQLite the transaction began with
BEGIN IMMEDIATE and already holds the write lock), so concurrent writers to one review or
to the ledger queue up and each sees the head the previous one left. Locks are always
taken in the same order, review chain then ledger, so two writers cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapper, Session

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


@dataclass
class Head:
    """A chain's tip as this transaction found it (locked) and moves it."""

    chain_id: str
    length: int
    head_hash: str


# The audit path reads and moves chain heads and inserts records with Core statements:
# the ORM's unit of work (identity map, dirty tracking, flush ordering) cost more than
# the writes themselves, for records that are only ever inserted.
_HEADS: Table = ChainHeadRow.__table__  # type: ignore[assignment]
_LOCKED_TIP = (
    select(_HEADS.c.length, _HEADS.c.head_hash)
    .where(_HEADS.c.chain_id == bindparam("chain_id"))
    .with_for_update()
)
_MOVE_TIP = (
    update(_HEADS)
    .where(_HEADS.c.chain_id == bindparam("tip_chain"))
    .values(length=bindparam("tip_length"), head_hash=bindparam("tip_hash"))
)


def _locked_tip(session: Session, chain_id: str) -> Head | None:
    found = session.execute(_LOCKED_TIP, {"chain_id": chain_id}).first()
    return Head(chain_id, found.length, found.head_hash) if found is not None else None


def _move(session: Session, head: Head) -> None:
    session.execute(
        _MOVE_TIP,
        {"tip_chain": head.chain_id, "tip_length": head.length, "tip_hash": head.head_hash},
    )


_Shape = tuple[Table, tuple[tuple[str, str], ...]]
_SHAPES: dict[type, _Shape] = {}


def _columns(model: type) -> _Shape:
    """A mapped class's table and its (attribute, column) names, looked up once."""
    shape = _SHAPES.get(model)
    if shape is None:
        mapper: Mapper[Any] = sa_inspect(model)
        pairs = tuple((prop.key, prop.columns[0].key) for prop in mapper.column_attrs)
        table = mapper.local_table
        assert isinstance(table, Table)  # every audit class maps one table
        shape = _SHAPES[model] = (table, pairs)
    return shape


def insert_records(session: Session, records: Sequence[object]) -> None:
    """INSERT mapped objects as they are, in order, one executemany per table and shape.

    Only attributes that were set are written (an unset one is left to the database, as
    the ORM would leave it), so what is stored is what the ORM would have stored.
    """
    groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    for record in records:
        table, pairs = _columns(type(record))
        values = {col: record.__dict__[attr] for attr, col in pairs if attr in record.__dict__}
        groups.setdefault((table, tuple(values)), []).append(values)
    for (table, _shape), rows in groups.items():
        session.execute(insert(table), rows)


def _ledger(session: Session, review_id: str, kind: str, record: Chained) -> None:
    head = _locked_tip(session, LEDGER_CHAIN)
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
    insert_records(session, [entry])
    head.length, head.head_hash = entry.position, entry.entry_hash
    _move(session, head)


def open_review(session: Session, review: ReviewRow) -> None:
    """Start a review's chain with its review row (#0), and enter it in the ledger."""
    seal(review, 0, "")
    head = ChainHeadRow(chain_id=review.id, length=1, head_hash=review.row_hash)
    insert_records(session, [review, head])  # the ledger entry refers to the review row
    _ledger(session, review.id, "review", review)


def locked_review_head(session: Session, review_id: str) -> Head:
    """The review's chain head, locked; UnknownReview when there is no such review."""
    head = _locked_tip(session, review_id)
    if head is None:
        raise UnknownReview(f"no review {review_id!r} in the audit log")
    return head


def append(
    session: Session,
    review_id: str,
    rows: list[Chained],
    *,
    ledger_kind: str | None = None,
    head: Head | None = None,
) -> None:
    """Add records to the end of a review's chain; `ledger_kind` also seals the last one.

    `head`: the chain head this transaction already locked (saves reading it again).
    """
    if not rows:
        return
    head = head or locked_review_head(session, review_id)
    for row in rows:
        row.review_id = review_id
        seal(row, head.length, head.head_hash)
        head.length, head.head_hash = head.length + 1, row.row_hash
    insert_records(session, rows)
    _move(session, head)
    if ledger_kind is not None:
        _ledger(session, review_id, ledger_kind, rows[-1])


# Built once per dialect: a crawl stores several blobs in each review. On the table, not
# the mapped class: the ORM's bulk-insert path cost as much again as the insert itself.
_BLOBS: Table = PageBlobRow.__table__  # type: ignore[assignment]
_PUT_BLOBS = {
    name: insert(_BLOBS).on_conflict_do_nothing(index_elements=["sha256"])
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
