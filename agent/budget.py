"""Enforcing a review's resource caps (merchant_review/limits.py) around the assessment.

`ReviewBudget` counts what the assessment spends from the audit events it records (one
model_call event per attempt, with its tokens), so the count is the audit log's own. The
model caller asks `before_model_call()` before each attempt: once the calls or tokens are
used up, or the wall time has run out, it raises `BudgetExceeded` and nothing more is
sent. The assess node turns that (or its own timeout) into an escalation that names the
cap, keeping the usage spent so far.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from agent.assessor import AssessmentRequest, Assessor
from merchant_review.audit import AuditEvent, AuditSink, EventKind
from merchant_review.limits import ReviewLimits
from merchant_review.verdict import Assessment, SiteStatus, Usage
from tools.toolbox import ReviewToolbox


class BudgetExceeded(Exception):
    """A review reached one of its caps; the message names it."""


_CURRENT: ContextVar[ReviewBudget | None] = ContextVar("review_budget", default=None)


class ReviewBudget:
    """One review's remaining model calls, tokens and time."""

    def __init__(self, limits: ReviewLimits, seconds: float) -> None:
        self.limits = limits
        self.seconds = seconds  # the assessment's share of the review's wall time
        self.deadline = asyncio.get_running_loop().time() + seconds
        self.usage = Usage()  # llm_calls counts attempts, as the caps do

    def seconds_left(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()

    def spent(self, event: AuditEvent) -> None:
        """Count a recorded model call (cache hits record no tokens and cost nothing)."""
        if event.kind is not EventKind.MODEL_CALL or (event.input or {}).get("cached"):
            return
        call = Usage(
            llm_calls=1,
            prompt_tokens=event.prompt_tokens or 0,
            completion_tokens=event.completion_tokens or 0,
        )
        self.usage = self.usage.add(call)

    def check(self) -> None:
        """Raise BudgetExceeded if another model call would break a cap."""
        if self.usage.llm_calls >= self.limits.max_model_calls:
            raise BudgetExceeded(f"model call cap reached ({self.limits.max_model_calls} calls)")
        if self.usage.tokens >= self.limits.max_tokens:
            raise BudgetExceeded(
                f"token cap reached ({self.usage.tokens} of {self.limits.max_tokens} tokens)"
            )
        if self.seconds_left() <= 0:
            raise BudgetExceeded(f"review time budget used up ({self.limits.time_budget_s:g} s)")

    def watch(self, sink: AuditSink) -> AuditSink:
        """`sink`, with every event it records also counted against this budget."""
        return _CountingSink(sink, self)

    @contextmanager
    def active(self) -> Iterator[ReviewBudget]:
        """Make this the budget `before_model_call` checks (for this task and its children)."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)


class _CountingSink:
    def __init__(self, inner: AuditSink, budget: ReviewBudget) -> None:
        self.inner = inner
        self.budget = budget

    def record(self, event: AuditEvent) -> None:
        self.inner.record(event)  # recorded first: a call that breaks a cap is still audited
        self.budget.spent(event)


def before_model_call() -> None:
    """Called by the model caller before each attempt: raises BudgetExceeded when capped.

    Outside a review (no active budget: unit tests of the caller, benchmarks) it does nothing.
    """
    budget = _CURRENT.get()
    if budget is not None:
        budget.check()


async def assess_within(
    budget: ReviewBudget, assessor: Assessor, request: AssessmentRequest, toolbox: ReviewToolbox
) -> Assessment:
    """The assessor's assessment, or an escalation naming the cap the review reached."""
    try:
        with budget.active():
            async with asyncio.timeout(max(budget.seconds_left(), 0.0)) as scope:
                return await assessor.assess(request, toolbox)
    except BudgetExceeded as exc:
        reason = str(exc)
    except TimeoutError:
        if not scope.expired():
            raise  # a timeout of the assessor's own, not the review's budget
        reason = f"review time budget used up ({budget.limits.time_budget_s:g} s)"
    return Assessment(
        findings=[],
        site_status=SiteStatus.UNCLEAR,
        confidence=0.0,
        escalation_reason=f"review stopped: {reason}",
        engine=assessor.engine,
        model=getattr(assessor, "model_name", None),
        prompt_version=getattr(assessor, "prompt_version", None),
        usage=budget.usage,
    )
