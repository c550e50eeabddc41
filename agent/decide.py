"""From verified findings to a decision, by the taxonomy's rules, in code.

The assessor's opinion of the outcome is never trusted: only verified findings count.
Precision first: a prohibited category rejects only on strong evidence; weaker evidence
escalates to a human instead of passing silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from merchant_review.pages import PageSnapshot
from merchant_review.settings import Settings
from merchant_review.taxonomy import Category, Decision, Tier, decide
from merchant_review.verdict import Assessment, Finding, RejectedFinding, SiteStatus


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    categories: list[Category]
    confidence: float
    reasons: list[str]


def _category_strength(findings: list[Finding]) -> dict[Category, float]:
    strength: dict[Category, float] = {}
    for finding in findings:
        strength[finding.category] = max(strength.get(finding.category, 0.0), finding.confidence)
    return strength


def decide_outcome(
    assessment: Assessment | None,
    verified: list[Finding],
    rejected: list[RejectedFinding],
    settings: Settings,
    error: str | None = None,
    *,
    pages: Sequence[PageSnapshot] = (),
) -> Outcome:
    """Apply the decision table to what survived verification.

    `pages`: what the review fetched. A page cut at the byte cap was not read to its end:
    what it hides there (a 20 MB page pushing the real content out of reach, say) was
    never assessed, so such a review cannot approve; it escalates.
    """
    if error is not None or assessment is None:
        return Outcome(Decision.ESCALATE, [], 0.0, [f"review failed: {error or 'no assessment'}"])
    strength = _category_strength(verified)
    categories = sorted(strength, key=lambda c: c.value)
    reasons: list[str] = list(assessment.notes)
    weak = [
        c
        for c, s in strength.items()
        if c.tier is Tier.PROHIBITED and s < settings.reject_min_confidence
    ]
    decisive = {c for c in categories if c not in weak}
    insufficient = _insufficiency(assessment, verified, rejected, reasons)
    if weak:
        insufficient = True
        reasons.append("weak evidence for " + ", ".join(c.value for c in weak))
    decision = decide(decisive, insufficient_evidence=insufficient)
    if decision is Decision.APPROVE and assessment.confidence < settings.approve_min_confidence:
        decision = Decision.ESCALATE
        reasons.append(f"low confidence ({assessment.confidence:.2f}) in a clean site")
    if decision is Decision.APPROVE and any(page.ok and page.truncated for page in pages):
        decision = Decision.ESCALATE
        reasons.append("a page was cut at the byte cap: an approval cannot rest on a partial read")
    reasons.extend(_supporting(decisive, strength))
    return Outcome(decision, categories, _confidence(assessment, rejected), reasons)


def _insufficiency(
    assessment: Assessment,
    verified: list[Finding],
    rejected: list[RejectedFinding],
    reasons: list[str],
) -> bool:
    insufficient = False
    if assessment.site_status is not SiteStatus.OPERATING:
        reasons.append(f"site is {assessment.site_status.value.replace('_', ' ')}")
        insufficient = True
    if assessment.escalation_reason:
        reasons.append(assessment.escalation_reason)
        insufficient = True
    if rejected and not verified:
        reasons.append("proposed evidence failed verification")
        insufficient = True
    return insufficient


def _supporting(categories: set[Category], strength: dict[Category, float]) -> list[str]:
    return [
        f"{c.value} ({c.tier.value}) supported by verified evidence (strength {strength[c]:.2f})"
        for c in sorted(categories, key=lambda c: c.value)
    ]


def _confidence(assessment: Assessment, rejected: list[RejectedFinding]) -> float:
    # Refused citations mean the assessor saw (or invented) evidence that does not hold:
    # the outcome is less certain than it believed.
    penalty = 0.1 * min(len(rejected), 3)
    return max(0.0, min(1.0, assessment.confidence - penalty))
