"""What a batch run found: its summary, and the merchants whose decision changed.

A decision "changed" when the item's decision differs from the one of the merchant's
previous review (the latest real review before the run; merchants never reviewed before
have nothing to change from). Carried-forward items keep their decision.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select

from merchant_review.batch.runs import counts
from merchant_review.batch.schema import FAILED, BatchItemRow
from merchant_review.storage import Store
from merchant_review.storage.schema import VerdictRow

MAX_LISTED = 20


@dataclass
class RunSummary:
    """Counts of a run: items by status, decisions by type, changed decisions, failures."""

    run_id: str
    statuses: dict[str, int]
    decisions: Counter[str]
    changed: int
    failures: list[tuple[str, str]] = field(default_factory=list)  # (merchant, error), a few

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def record(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "total": self.total,
            "statuses": self.statuses,
            "decisions": dict(self.decisions),
            "changed_decisions": self.changed,
            "failures": [{"merchant_id": m, "error": e} for m, e in self.failures],
        }


def _changed() -> Any:
    return and_(
        BatchItemRow.previous_decision.is_not(None),
        BatchItemRow.decision.is_not(None),
        BatchItemRow.decision != BatchItemRow.previous_decision,
    )


def summarize(store: Store, run_id: str) -> RunSummary:
    """The run's summary as the database holds it now."""
    mine = BatchItemRow.run_id == run_id
    with store.session() as session:
        decisions = session.execute(
            select(BatchItemRow.decision, func.count())
            .where(mine, BatchItemRow.decision.is_not(None))
            .group_by(BatchItemRow.decision)
        )
        changed = session.scalar(
            select(func.count()).select_from(BatchItemRow).where(mine, _changed())
        )
        failures = session.execute(
            select(BatchItemRow.merchant_id, BatchItemRow.error)
            .where(mine, BatchItemRow.status == FAILED)
            .order_by(BatchItemRow.position)
            .limit(MAX_LISTED)
        )
        return RunSummary(
            run_id=run_id,
            statuses=counts(store, run_id),
            decisions=Counter({str(d): int(n) for d, n in decisions}),
            changed=int(changed or 0),
            failures=[(m, e or "") for m, e in failures],
        )


@dataclass(frozen=True)
class Change:
    """One merchant whose decision changed: the previous verdict and the run's."""

    merchant_id: str
    old: dict[str, Any]
    new: dict[str, Any]

    def record(self) -> dict[str, Any]:
        return {"merchant_id": self.merchant_id, "old": self.old, "new": self.new}


def _verdict(review_id: str | None, verdicts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"review_id": review_id, **verdicts.get(review_id or "", {})}


def changes(store: Store, run_id: str) -> list[Change]:
    """Items of the run whose decision changed, in run order, with both verdicts."""
    query = (
        select(BatchItemRow)
        .where(BatchItemRow.run_id == run_id, _changed())
        .order_by(BatchItemRow.position)
    )
    with store.session() as session:
        items = list(session.scalars(query))
        review_ids = [i for item in items for i in (item.review_id, item.previous_review_id) if i]
        rows = session.scalars(select(VerdictRow).where(VerdictRow.review_id.in_(review_ids)))
        verdicts = {row.review_id: dict(row.verdict) for row in rows}
    return [
        Change(
            item.merchant_id,
            _verdict(item.previous_review_id, verdicts),
            _verdict(item.review_id, verdicts),
        )
        for item in items
    ]
