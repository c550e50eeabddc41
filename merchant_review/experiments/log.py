"""The experiment log: an append-only, hash-chained history of configurations.

Entries are sealed like audit records (merchant_review/chain.py): each commits to its
content and to the previous entry, and the chain head (chain_heads "experiments") holds
the length and last hash. Appending locks the head, so concurrent writers queue up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from merchant_review.audit import to_jsonable
from merchant_review.chain import record_problem, seal
from merchant_review.experiments.schema import EXPERIMENT_CHAIN, ExperimentLogRow
from merchant_review.storage import StorageError, Store
from merchant_review.storage.schema import ChainHeadRow
from merchant_review.storage.writes import locked_head, now


def append(session: Session, kind: str, config: str, actor: str, payload: Any) -> ExperimentLogRow:
    """Add an entry at the end of the chain, inside the caller's write transaction."""
    head = locked_head(session, EXPERIMENT_CHAIN)
    if head is None:  # made by migration r0004
        raise StorageError("the experiment log has no head row: the schema is damaged")
    row = ExperimentLogRow(
        kind=kind,
        config=config,
        actor=actor,
        payload=to_jsonable(payload),
        created_at=now(),
    )
    seal(row, head.length, head.head_hash)
    session.add(row)
    head.length, head.head_hash = head.length + 1, row.row_hash
    return row


def entries(store: Store, config: str | None = None) -> list[ExperimentLogRow]:
    query = select(ExperimentLogRow).order_by(ExperimentLogRow.seq)
    if config is not None:
        query = query.where(ExperimentLogRow.config == config)
    with store.session() as session:
        return list(session.scalars(query))


@dataclass(frozen=True)
class LogCheck:
    entries: int
    problem: str | None  # None: every link and hash holds

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(store: Store) -> LogCheck:
    """Recompute the chain: the first entry that does not hold, or None."""
    rows = entries(store)
    prev = ""
    for expected, row in enumerate(rows):
        problem = record_problem(row, expected, prev)
        if problem is not None:
            return LogCheck(len(rows), f"experiment log entry #{row.seq} ({row.kind}): {problem}")
        prev = row.row_hash
    with store.session() as session:
        head = session.get(ChainHeadRow, EXPERIMENT_CHAIN)
    if head is None or (head.length, head.head_hash) != (len(rows), prev):
        return LogCheck(len(rows), "the experiment log's head does not match its entries")
    return LogCheck(len(rows), None)
