"""The audit-chain status of one review, from the storage package's verification.

`verify_audit_log(store, since=review start)` checks every review started from then on
(this one included) and the ledger entries written since; the problems that concern this
review's chain, or the ledger that ties the chains together, are what the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from merchant_review.audit_verify import verify_audit_log
from merchant_review.storage import Store
from merchant_review.storage.reads import StoredReview


@dataclass(frozen=True)
class ChainStatus:
    """Whether the review's records and the ledger verify; the problems if not."""

    records: int
    problems: list[str] = field(default_factory=list)
    ledger_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.ledger_problems


def chain_status(store: Store, stored: StoredReview) -> ChainStatus:
    """Verify the review's hash chain, its page blobs and the ledger since it started."""
    review_id = stored.review.id
    report = verify_audit_log(store, since=stored.review.started_at)
    mine = [p for p in report.problems if p.chain == f"review {review_id}"]
    ledger = [p for p in report.problems if p.chain == "ledger"]
    records = 1 + len(stored.events) + len(stored.pages) + len(stored.overrides)
    records += (stored.verdict is not None) + (stored.crawl is not None)
    return ChainStatus(
        records=records,
        problems=[f"{p.record}: {p.what}" for p in mine],
        ledger_problems=[f"{p.record}: {p.what}" for p in ledger],
    )
