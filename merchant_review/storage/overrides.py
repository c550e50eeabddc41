"""Analyst overrides: which decision and categories stand for a review.

An override records an analyst's decision on a reviewed merchant. It never changes the
verdict: it is a new record pointing to the one it corrects, and the latest override is
the decision that stands. An override whose decision equals the verdict's *confirms* it.

Labels must obey the taxonomy's decision table (they become evaluation data): `reject`
needs a prohibited category, `request_info` a restricted one or business_mismatch and no
prohibited one, `approve` none; `escalate` may keep any. Without explicit categories an
override keeps the verdict's (none for `approve`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from merchant_review.storage.errors import InvalidOverride
from merchant_review.taxonomy import Category, Decision, decide


def override_categories(
    decision: Decision, given: Iterable[Category] | None, verdict_categories: Iterable[Category]
) -> list[Category]:
    """The categories an override stands for; InvalidOverride if they contradict `decision`."""
    if given is not None:
        categories = set(given)
    elif decision is Decision.APPROVE:
        categories = set()
    else:
        categories = set(verdict_categories)
    ordered = sorted(categories, key=lambda c: c.value)
    if decision is Decision.ESCALATE:
        return ordered
    implied = decide(ordered, insufficient_evidence=False)
    if implied is not decision:
        names = ", ".join(c.value for c in ordered) or "none"
        raise InvalidOverride(
            f"decision {decision.value} does not fit the categories ({names}), which mean "
            f"{implied.value}: give the right categories with --categories"
        )
    return ordered


@dataclass(frozen=True)
class FinalDecision:
    """The decision that stands for a review: the verdict's, or the latest override's."""

    decision: Decision
    categories: list[Category]
    engine_decision: Decision
    analyst: str | None = None  # None: no override

    @property
    def overridden(self) -> bool:
        return self.analyst is not None

    @property
    def confirmed(self) -> bool:
        """An analyst looked and agreed with the engine's decision."""
        return self.overridden and self.decision is self.engine_decision
