"""The engine's confidence in the outcome it proposes, and why a case should escalate.

The decision itself is derived in code from verified findings (agent/decide.py); this is
the engine's estimate that the outcome those findings imply is right. It is monotone in
the evidence and is to be calibrated on labelled data:

- strong prohibited evidence (reject): the strongest such finding's confidence;
- restricted or mismatch evidence (request_info): the strongest such finding's;
- only weak prohibited evidence (escalate): a coin flip;
- a site that is not operating (escalate): high, the crawl result is plain;
- a clean operating site (approve): grows with pages and text, shrinks with lookalike
  contexts and stray supporting indicators the engine chose not to act on.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.offline.findings import RuleEvidence
from agent.offline.site_status import StatusReport
from merchant_review.taxonomy import Decision, Tier, decide
from merchant_review.verdict import Finding, SiteStatus

NOT_OPERATING_CONFIDENCE = {
    SiteStatus.UNREACHABLE: 0.9,
    SiteStatus.EMPTY: 0.85,
    SiteStatus.PARKED: 0.9,
    SiteStatus.UNDER_CONSTRUCTION: 0.85,
    SiteStatus.UNCLEAR: 0.6,
}
WEAK_ONLY_CONFIDENCE = 0.5
DEFAULT_APPROVE_MIN_CONFIDENCE = 0.5  # mirrors Settings.approve_min_confidence
CONFLICT_FACTOR = 0.9
FULL_TEXT_WORDS = 300  # a site with this much text is not thin
# A single page is a thin site when it has fewer than THIN_WORDS words and fewer than
# THIN_CONTENT_WORDS content words (80 x 0.736, the content share of the dev TRAIN pages):
# a page whose text lost its function words (a stripped text dump) is then no thinner
# than the same page in full, and no page of ordinary text is thinner than before.
THIN_WORDS = 80
THIN_CONTENT_WORDS = 59
THIN_CONFIDENCE = 0.45  # below the usual approve threshold (0.5): a person should look
LOOKALIKE_PENALTY, LOOKALIKE_CAP = 0.04, 0.12
STRAY_PENALTY, STRAY_CAP = 0.02, 0.06


@dataclass(frozen=True)
class Outcome:
    """The outcome the findings imply, the engine's raw confidence in it, and why a person
    should look (None when no one needs to)."""

    decision: Decision
    confidence: float
    escalation_reason: str | None


def approve_confidence(status: StatusReport, evidence: list[RuleEvidence]) -> float:
    """Confidence that a site with no finding is a clean, real business.

    `evidence` holds what the scorer saw for rules that made no finding: cancelled
    lookalike hits and stray indicators too weak to act on each cost a little.
    """
    if (
        status.ok_pages <= 1
        and status.words < THIN_WORDS
        and status.content_words < THIN_CONTENT_WORDS
    ):
        richness = THIN_CONFIDENCE  # one short page: too little to vouch for a business
    else:
        richness = (
            0.5 + 0.07 * min(status.ok_pages, 5) + 0.12 * min(status.words / FULL_TEXT_WORDS, 1)
        )
    lookalikes = sum(1 for e in evidence if e.suppressed)
    stray = sum(1 for e in evidence if (e.positive or e.supporting) and not e.suppressed)
    penalty = min(LOOKALIKE_PENALTY * lookalikes, LOOKALIKE_CAP)
    penalty += min(STRAY_PENALTY * stray, STRAY_CAP)
    return max(0.05, min(0.95, richness - penalty))


def propose_outcome(
    status: StatusReport,
    findings: list[Finding],
    evidence: list[RuleEvidence],
    reject_min_confidence: float,
    approve_min_confidence: float = DEFAULT_APPROVE_MIN_CONFIDENCE,
) -> Outcome:
    """The outcome, the engine's confidence in it and, when a person should look, why.

    The outcome follows the decision table (agent/decide.py) applied to the findings, all
    of which verify (they are verbatim). A clean site the engine cannot vouch for (raw
    approve confidence below `approve_min_confidence`) is proposed for escalation here, on
    the raw scale, so that calibrating the confidence never moves a case across the bar.
    """
    prohibited = [f.confidence for f in findings if f.category.tier is Tier.PROHIBITED]
    strong = [c for c in prohibited if c >= reject_min_confidence]
    others = [f.confidence for f in findings if f.category.tier is not Tier.PROHIBITED]
    found = {f.rule_id for f in findings}
    conflicts = sorted(e.rule_id for e in evidence if e.rule_id in found and e.conflicting)
    unfound = [e for e in evidence if e.rule_id not in found]
    reasons = [status.reason] if status.reason else []
    if conflicts:
        reasons.append("lookalike context next to the evidence for " + ", ".join(conflicts))
    if prohibited and not strong:
        reasons.append("only weak evidence for a prohibited category")
    if strong:
        value = max(strong)
    elif others:
        value = max(others) * (CONFLICT_FACTOR if prohibited else 1.0)
    elif prohibited:
        value = WEAK_ONLY_CONFIDENCE
    elif status.status is not SiteStatus.OPERATING:
        value = NOT_OPERATING_CONFIDENCE[status.status]
    else:
        value = approve_confidence(status, unfound)
        if value < approve_min_confidence and not reasons:
            # Too little to vouch for a business: the confidence becomes that a person
            # should look, i.e. that approving would be wrong.
            reasons.append(f"low confidence ({value:.2f}) in a clean site")
            value = 1.0 - value
    if conflicts:
        value *= CONFLICT_FACTOR
    supported = {f.category for f in findings if f.category.tier is not Tier.PROHIBITED}
    supported |= {f.category for f in findings if f.confidence >= reject_min_confidence}
    decision = decide(supported, insufficient_evidence=bool(reasons))
    return Outcome(decision, round(value, 3), "; ".join(reasons) or None)
