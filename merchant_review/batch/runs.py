"""A batch run in the database: creating it, claiming its items, finishing them.

Every change is one short transaction. Claiming is atomic: on PostgreSQL the candidate
row is locked with SELECT ... FOR UPDATE SKIP LOCKED (concurrent claimers take different
items without waiting), on SQLite the write transaction (BEGIN IMMEDIATE) serialises
claimers. An item is claimable when pending, or when claimed by a claimer whose lease ran
out or whose process is known to be gone (identity.py). Finishing an item is fenced: it
only succeeds while the finisher still holds the claim.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from merchant_review.batch.identity import known_dead
from merchant_review.batch.schema import (
    CLAIMED,
    FAILED,
    FINAL_STATES,
    PENDING,
    BatchItemRow,
    BatchRunRow,
)
from merchant_review.storage import StorageError, Store

INSERT_CHUNK = 1000


class UnknownRun(StorageError):
    """No batch run has that id."""


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Claim:
    """An item this claimer holds: review it, then finish it with `complete`."""

    run_id: str
    merchant_id: str
    claimer: str
    attempts: int  # > 1: an earlier claimer may have left a review behind


OUTCOME_COLUMNS = (
    "status",
    "review_id",
    "decision",
    "previous_review_id",
    "previous_decision",
    "site_hash",
    "error",
)  # fmt: skip  (the batch_items columns an Outcome fills in, by the same names)


@dataclass(frozen=True)
class Outcome:
    """How an item ended."""

    status: str
    review_id: str | None = None
    decision: str | None = None
    previous_review_id: str | None = None
    previous_decision: str | None = None
    site_hash: str | None = None
    error: str | None = None


def _chunks(values: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


def create_run(
    store: Store,
    merchant_ids: Iterable[str],
    *,
    versions: dict[str, str | None],
    selection: dict[str, Any],
    options: dict[str, Any],
) -> str:
    """Record a run and its items (pending, in the given order); returns the run id."""
    run_id = uuid.uuid4().hex
    with store.write_session() as session:
        session.add(
            BatchRunRow(
                id=run_id,
                created_at=now(),
                engine=versions["engine"] or "",
                model=versions["model"],
                prompt_version=versions["prompt_version"],
                corpus_version=versions["corpus_version"] or "",
                selection=selection,
                options=options,
                total=0,
            )
        )
        session.flush()
        total = 0
        for chunk in _chunks(merchant_ids, INSERT_CHUNK):
            session.execute(
                insert(BatchItemRow), [_item(run_id, total + i, m) for i, m in enumerate(chunk)]
            )
            total += len(chunk)
        session.get_one(BatchRunRow, run_id).total = total
    return run_id


def _item(run_id: str, position: int, merchant_id: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "merchant_id": merchant_id,
        "position": position,
        "status": PENDING,
        "attempts": 0,
        "failures": 0,
    }


def get_run(store: Store, run_id: str) -> BatchRunRow:
    """The run with this id (or the only one whose id starts with it)."""
    with store.session() as session:
        run = session.get(BatchRunRow, run_id)
        if run is None and run_id:
            query = select(BatchRunRow).where(BatchRunRow.id.startswith(run_id, autoescape=True))
            matches = list(session.scalars(query.limit(2)))
            run = matches[0] if len(matches) == 1 else None
    if run is None:
        raise UnknownRun(f"no batch run {run_id!r} (or the prefix is ambiguous)")
    return run


def _dead_claimers(session: Session, run_id: str) -> list[str]:
    query = select(BatchItemRow.claimed_by).where(
        BatchItemRow.run_id == run_id, BatchItemRow.status == CLAIMED
    )
    return [c for c in set(session.scalars(query.distinct())) if c and known_dead(c)]


def _claimable(session: Session, run_id: str, at: datetime) -> ColumnElement[bool]:
    stale = or_(
        BatchItemRow.lease_until < at, BatchItemRow.claimed_by.in_(_dead_claimers(session, run_id))
    )
    return and_(
        BatchItemRow.run_id == run_id,
        or_(BatchItemRow.status == PENDING, and_(BatchItemRow.status == CLAIMED, stale)),
    )


_ITEMS: Table = BatchItemRow.__table__  # type: ignore[assignment]
# Built once, on the table: every item is claimed with it (the ORM's load of the whole row
# and its unit-of-work flush cost more than the two statements).
_TAKE = (
    update(_ITEMS)
    .where(_ITEMS.c.run_id == bindparam("t_run"), _ITEMS.c.merchant_id == bindparam("t_merchant"))
    .values(
        status=CLAIMED,
        claimed_by=bindparam("t_claimer"),
        lease_until=bindparam("t_lease"),
        attempts=bindparam("t_attempts"),
    )
)


def _take(
    session: Session, item: Row[Any, Any], run_id: str, claimer: str, lease_s: float, at: datetime
) -> Claim:
    """Claim a candidate item (`item`: its merchant_id and attempts, read under the lock)."""
    merchant_id, attempts = item.merchant_id, item.attempts + 1
    lease_until = at + timedelta(seconds=lease_s)
    values = {"t_claimer": claimer, "t_lease": lease_until, "t_attempts": attempts}
    session.execute(_TAKE, {"t_run": run_id, "t_merchant": merchant_id, **values})
    return Claim(run_id, merchant_id, claimer, attempts)


def claim_next(store: Store, run_id: str, claimer: str, lease_s: float) -> Claim | None:
    """Claim the run's next claimable item (None: nothing left to claim)."""
    at = now()
    with store.write_session() as session:
        item = session.execute(_NEXT_PENDING, {"run": run_id}).first()
        if item is None:  # only then look for stale claims (it costs a query for dead claimers)
            query = _CANDIDATE.where(_claimable(session, run_id, at))
            query = query.order_by(_ITEMS.c.position).limit(1)
            item = session.execute(query.with_for_update(skip_locked=True)).first()
        return _take(session, item, run_id, claimer, lease_s, at) if item is not None else None


# What claiming needs of a candidate item.
_CANDIDATE = select(_ITEMS.c.merchant_id, _ITEMS.c.attempts)
# Built once: every claim runs it.
_NEXT_PENDING = (
    _CANDIDATE.where(_ITEMS.c.run_id == bindparam("run"), _ITEMS.c.status == PENDING)
    .order_by(_ITEMS.c.position)
    .limit(1)
    .with_for_update(skip_locked=True)
)


@dataclass(frozen=True)
class Refusal:
    """Why an item could not be claimed: finished already, or held (lease `wait_s` left)."""

    reason: str
    wait_s: float = 0.0


def claim_item(
    store: Store, run_id: str, merchant_id: str, claimer: str, lease_s: float
) -> Claim | Refusal:
    """Claim one given item (a distributed task); a Refusal says why not."""
    at = now()
    with store.write_session() as session:
        condition = and_(_claimable(session, run_id, at), BatchItemRow.merchant_id == merchant_id)
        item = session.execute(_CANDIDATE.where(condition).with_for_update()).first()
        if item is not None:
            return _take(session, item, run_id, claimer, lease_s, at)
        held = session.get(BatchItemRow, (run_id, merchant_id))
    if held is None:
        return Refusal("unknown item")
    if held.status in FINAL_STATES:
        return Refusal(f"already {held.status}")
    left = (held.lease_until - at).total_seconds() if held.lease_until else 0.0
    return Refusal(f"held by {held.claimed_by}", wait_s=max(left, 0.0))


def _mine(claim: Claim) -> ColumnElement[bool]:
    return and_(
        BatchItemRow.run_id == claim.run_id,
        BatchItemRow.merchant_id == claim.merchant_id,
        BatchItemRow.claimed_by == claim.claimer,
        BatchItemRow.status == CLAIMED,
    )


# Built once, on the table (no ORM bookkeeping): every item ends with it.
_COMPLETE = (
    update(_ITEMS)
    .where(
        _ITEMS.c.run_id == bindparam("b_run"),
        _ITEMS.c.merchant_id == bindparam("b_merchant"),
        _ITEMS.c.claimed_by == bindparam("b_claimer"),
        _ITEMS.c.status == CLAIMED,
    )
    .values({name: bindparam(name) for name in (*OUTCOME_COLUMNS, "lease_until", "finished_at")})
)


def complete(store: Store, claim: Claim, outcome: Outcome) -> bool:
    """Finish a claimed item; False when the claim was lost (taken over) meanwhile."""
    values = {name: getattr(outcome, name) for name in OUTCOME_COLUMNS}
    values.update(lease_until=None, finished_at=now())
    fence = {"b_run": claim.run_id, "b_merchant": claim.merchant_id, "b_claimer": claim.claimer}
    with store.write_session() as session:
        done = session.execute(_COMPLETE, {**fence, **values})
    return bool(getattr(done, "rowcount", 0))


def give_back(store: Store, claim: Claim, error: str, max_failures: int) -> str:
    """An attempt raised: the item returns to pending, or fails for good; its new status."""
    with store.write_session() as session:
        row = session.scalars(select(BatchItemRow).where(_mine(claim))).first()
        if row is None:
            return "lost"
        row.failures += 1
        row.error = error
        row.lease_until = None
        row.status = FAILED if row.failures >= max_failures else PENDING
        if row.status == FAILED:
            row.finished_at = now()
        return row.status


def release(store: Store, run_id: str, claimer: str) -> int:
    """Hand back every item `claimer` holds in the run (a clean stop); how many."""
    mine = and_(
        BatchItemRow.run_id == run_id,
        BatchItemRow.claimed_by == claimer,
        BatchItemRow.status == CLAIMED,
    )
    with store.write_session() as session:
        done = session.execute(
            update(BatchItemRow).where(mine).values(status=PENDING, lease_until=None)
        )
    return int(getattr(done, "rowcount", 0))


def renew(store: Store, run_id: str, claimer: str, lease_s: float) -> None:
    """Extend the leases of the items `claimer` holds (its heartbeat)."""
    mine = and_(
        BatchItemRow.run_id == run_id,
        BatchItemRow.claimed_by == claimer,
        BatchItemRow.status == CLAIMED,
    )
    until = now() + timedelta(seconds=lease_s)
    with store.write_session() as session:
        session.execute(update(BatchItemRow).where(mine).values(lease_until=until))


def retry_failed(store: Store, run_id: str) -> int:
    """Put the run's failed items back to pending (resume --retry-failed); how many."""
    failed = and_(BatchItemRow.run_id == run_id, BatchItemRow.status == FAILED)
    with store.write_session() as session:
        done = session.execute(
            update(BatchItemRow).where(failed).values(status=PENDING, failures=0, finished_at=None)
        )
    return int(getattr(done, "rowcount", 0))


def counts(store: Store, run_id: str) -> dict[str, int]:
    """Items of the run by status."""
    query = (
        select(BatchItemRow.status, func.count())
        .where(BatchItemRow.run_id == run_id)
        .group_by(BatchItemRow.status)
    )
    with store.session() as session:
        return {status: int(n) for status, n in session.execute(query)}


def stale_claims(store: Store, run_id: str) -> list[str]:
    """Merchants whose claim could be taken over now (dead claimer or expired lease)."""
    at = now()
    with store.session() as session:
        condition = and_(_claimable(session, run_id, at), BatchItemRow.status == CLAIMED)
        return list(session.scalars(select(BatchItemRow.merchant_id).where(condition)))


def unfinished(store: Store, run_id: str) -> Iterator[str]:
    """Merchants of the run not finished yet (pending or claimed), in order."""
    query = (
        select(BatchItemRow.merchant_id)
        .where(BatchItemRow.run_id == run_id, BatchItemRow.status.in_([PENDING, CLAIMED]))
        .order_by(BatchItemRow.position)
    )
    with store.session() as session:
        yield from session.scalars(query.execution_options(yield_per=INSERT_CHUNK))


def mark_finished(store: Store, run_id: str) -> bool:
    """Record the run's end once no item is left pending or claimed; whether it ended."""
    with store.write_session() as session:
        left = session.scalar(
            select(func.count())
            .select_from(BatchItemRow)
            .where(BatchItemRow.run_id == run_id, BatchItemRow.status.in_([PENDING, CLAIMED]))
        )
        run = session.get_one(BatchRunRow, run_id)
        if left == 0 and run.finished_at is None:
            run.finished_at = now()
        return left == 0
