"""What one fault scenario's review came to, and the checks every review must pass.

A review under a fault must end with a recorded verdict (a decision, or `escalate` with
its reason), within its time budget, without raising, and with its audit trail whole:
the verdict row stored and the hash chains intact.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from merchant_review.audit import EventKind
from merchant_review.storage import Store
from merchant_review.verdict import Verdict


@dataclass
class FaultOutcome:
    fault: str
    decision: str  # approve | reject | escalate | request_info | "crashed"
    reason: str  # the verdict's error or first reason, or the exception that escaped
    elapsed_s: float
    budget_s: float
    recorded: bool  # the verdict row is in the audit log
    model_calls_audited: int = 0
    model_requests_sent: int = 0
    details: dict[str, str] = field(default_factory=dict)

    @property
    def within_budget(self) -> bool:
        return self.elapsed_s <= self.budget_s

    @property
    def ok(self) -> bool:
        """Ended, in time, recorded, and every model request sent has its audit row."""
        return (
            self.decision != "crashed"
            and self.recorded
            and self.within_budget
            and self.model_calls_audited == self.model_requests_sent
        )


def verdict_reason(verdict: Verdict) -> str:
    return verdict.error or "; ".join(verdict.reasons)


async def timed_review(
    fault: str, budget_s: float, store: Store, review: Callable[[], Awaitable[Verdict]]
) -> tuple[FaultOutcome, Verdict | None]:
    """Run one review, catching anything that escapes (which counts as a crash)."""
    started = time.perf_counter()
    try:
        verdict = await review()
    except Exception as exc:  # the suite counts crashes instead of stopping at the first
        elapsed = time.perf_counter() - started
        reason = f"{type(exc).__name__}: {exc}"
        return FaultOutcome(fault, "crashed", reason, elapsed, budget_s, recorded=False), None
    elapsed = time.perf_counter() - started
    stored = store.get_review(verdict.review_id or "")
    recorded = stored is not None and stored.verdict is not None
    audited = 0
    if stored is not None:
        audited = sum(1 for event in stored.events if event.kind == EventKind.MODEL_CALL.value)
    outcome = FaultOutcome(
        fault, verdict.decision.value, verdict_reason(verdict), elapsed, budget_s, recorded,
        model_calls_audited=audited,
    )  # fmt: skip
    return outcome, verdict
