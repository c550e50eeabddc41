"""dev-noisy: the dev cases with ~10% of labels changed the way tired annotators change them.

Every noisy label still obeys the decision rules (a reject names a prohibited category), so
the folder stays a valid dataset; NOISE.md lists each change for people.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from merchant_review.taxonomy import Category, Decision, Tier, decide

C = Category
NOISE_SHARE = 0.10
# kind of change → share of the noisy cases
MIX: tuple[tuple[str, int], ...] = (
    ("reject→request_info", 6),
    ("request_info→reject", 5),
    ("approve→escalate", 5),
    ("escalate→approve", 3),
    ("dropped category", 4),
    ("added category", 3),
)
_SOFTER = {
    C.ILLEGAL_DRUGS: C.CBD,
    C.GET_RICH_QUICK: C.FINANCIAL_SERVICES,
    C.PHARMA_UNLICENSED: C.BUSINESS_MISMATCH,
    C.WEAPONS: C.BUSINESS_MISMATCH,
    C.COUNTERFEIT_IP: C.BUSINESS_MISMATCH,
    C.HATE_VIOLENCE: C.BUSINESS_MISMATCH,
    C.ADULT_CONTENT: C.BUSINESS_MISMATCH,
}
_HARSHER = {
    C.CBD: C.ILLEGAL_DRUGS,
    C.TOBACCO_VAPING: C.ILLEGAL_DRUGS,
    C.FINANCIAL_SERVICES: C.GET_RICH_QUICK,
    C.GAMBLING: C.GET_RICH_QUICK,
    C.BUSINESS_MISMATCH: C.COUNTERFEIT_IP,
}
Labels = tuple[Decision, list[Category]]


@dataclass(frozen=True)
class Change:
    case_id: str
    kind: str
    before: dict[str, Any]
    after: dict[str, Any]


def _labels(case: dict[str, Any]) -> Labels:
    exp = case["expected"]
    return Decision(exp["decision"]), [Category(c) for c in exp["categories"]]


def _ruled(categories: set[Category]) -> dict[str, Any]:
    cats = sorted(categories, key=lambda c: c.value)
    return {
        "decision": decide(cats, insufficient_evidence=False).value,
        "categories": [c.value for c in cats],
    }


def _soften(labels: Labels) -> dict[str, Any] | None:
    decision, cats = labels
    if decision is not Decision.REJECT:
        return None
    return _ruled({_SOFTER.get(c, c) for c in cats})


def _harden(labels: Labels) -> dict[str, Any] | None:
    decision, cats = labels
    if decision is not Decision.REQUEST_INFO:
        return None
    first = next(c for c in cats if c in _HARSHER)
    return _ruled(({c for c in cats if c is not first}) | {_HARSHER[first]})


def _to_escalate(labels: Labels) -> dict[str, Any] | None:
    return {"decision": "escalate", "categories": []} if labels[0] is Decision.APPROVE else None


def _to_approve(labels: Labels) -> dict[str, Any] | None:
    return {"decision": "approve", "categories": []} if labels[0] is Decision.ESCALATE else None


def _drop(labels: Labels) -> dict[str, Any] | None:
    decision, cats = labels
    for cat in sorted(cats, key=lambda c: (c.tier is Tier.PROHIBITED, c.value)):
        kept = set(cats) - {cat}
        if kept and decide(sorted(kept), insufficient_evidence=False) is decision:
            return _ruled(kept)
    return None


def _add(labels: Labels) -> dict[str, Any] | None:
    decision, cats = labels
    if decision not in (Decision.REJECT, Decision.REQUEST_INFO) or C.BUSINESS_MISMATCH in cats:
        return None
    return _ruled(set(cats) | {C.BUSINESS_MISMATCH})


_RULES: dict[str, Callable[[Labels], dict[str, Any] | None]] = {
    "reject→request_info": _soften,
    "request_info→reject": _harden,
    "approve→escalate": _to_escalate,
    "escalate→approve": _to_approve,
    "dropped category": _drop,
    "added category": _add,
}


def _quota(total: int) -> list[tuple[str, int]]:
    weight = sum(w for _, w in MIX)
    return [(kind, round(total * w / weight)) for kind, w in MIX]


def plan_noise(cases: list[dict[str, Any]], seed: int, has_site: set[str]) -> list[Change]:
    """The changes, chosen with a seeded generator; a case changes at most once."""
    rng = random.Random(f"{seed}:noise")
    taken: set[str] = set()
    changes = []
    for kind, count in _quota(round(len(cases) * NOISE_SHARE)):
        candidates = []
        for case in cases:
            after = _RULES[kind](_labels(case))
            usable = kind != "escalate→approve" or case["case_id"] in has_site
            if after is not None and usable and case["case_id"] not in taken:
                candidates.append(Change(case["case_id"], kind, case["expected"], after))
        for change in rng.sample(candidates, min(count, len(candidates))):
            taken.add(change.case_id)
            changes.append(change)
    return sorted(changes, key=lambda c: c.case_id)


def apply_noise(cases: list[dict[str, Any]], changes: list[Change]) -> list[dict[str, Any]]:
    """Copies of the cases with the changed labels (notes say nothing about the noise)."""
    by_id = {c.case_id: c for c in changes}
    noisy = copy.deepcopy(cases)
    for case in noisy:
        if case["case_id"] in by_id:
            case["expected"] = dict(by_id[case["case_id"]].after)
    return noisy


def noise_report(changes: list[Change], total: int) -> str:
    """NOISE.md: which case ids were changed and how."""
    lines = [
        "# dev-noisy: label noise",
        "",
        f"Same cases and sites as `dev/`; {len(changes)} of {total} cases "
        f"({len(changes) / max(total, 1):.1%}) carry a deliberately wrong label. Generated by "
        "`python -m evals.generate`; see evals/DATASETS.md. The system never reads this file.",
        "",
        "| case_id | change | dev label | noisy label |",
        "|---|---|---|---|",
    ]
    for c in changes:
        lines.append(f"| {c.case_id} | {c.kind} | {_show(c.before)} | {_show(c.after)} |")
    return "\n".join(lines) + "\n"


def _show(labels: dict[str, Any]) -> str:
    cats = ", ".join(labels["categories"])
    return f"{labels['decision']} [{cats}]"
