"""From snippet hits to findings: one finding per rule met, with verbatim citations.

A finding's confidence grows with the distinct indicators met (each counted once, however
often it repeats), supporting indicators, and how many pages and snippets show them; it
shrinks when lookalike contexts for the same rule stand on the same pages.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from agent.offline.mentions import MentionCounter
from agent.offline.scoring import SnippetHit
from merchant_review.policy import PolicyRule
from merchant_review.taxonomy import Category
from merchant_review.verdict import Finding, PageCitation

MAX_CITATIONS = 3
MAX_CONFIDENCE = 0.97
SUPPORT_WEIGHT, SUPPORT_CAP = 0.35, 0.7
PAGE_WEIGHT, PAGE_CAP = 0.25, 0.5
SNIPPET_WEIGHT, SNIPPET_CAP = 0.1, 0.3
CONFLICT_FACTOR = 0.85
# Below this weight of evidence there is no finding: one ordinary word said once in
# passing (a news item about vaping) is not a line of business. One specific indicator
# (a phrase or pattern) is enough; one word needs a second page or a supporting one.
MIN_WEIGHT = 1.0
# Evidence for other rules of the same category counts at this share: "Kokain / MDMA /
# Hasch" is a drug shop although each word alone would be a passing mention.
CATEGORY_SHARE = 0.5
_KIND_ORDER = {"product": 0, "heading": 1, "title": 2, "text": 3, "faq": 4, "image": 5}


@dataclass(frozen=True)
class RuleEvidence:
    """Everything the hits say about one rule, ready to become a finding."""

    rule: PolicyRule
    positive: list[SnippetHit]
    suppressed: list[SnippetHit]  # evidence cancelled by a lookalike context
    supporting: list[str]
    context: list[SnippetHit]  # every snippet with a lookalike context for the rule

    @property
    def rule_id(self) -> str:
        return self.rule.id

    @property
    def conflicting(self) -> bool:
        """Lookalike context for this rule on a page that also shows evidence for it."""
        pages = {hit.snippet.url for hit in self.positive}
        return any(hit.snippet.url in pages for hit in self.context)


def group_by_rule(hits: Iterable[SnippetHit]) -> list[RuleEvidence]:
    """Hits gathered per rule, in the order rules first appear."""
    grouped: dict[str, list[SnippetHit]] = defaultdict(list)
    for hit in hits:
        grouped[hit.rule.id].append(hit)
    evidence = []
    for rule_hits in grouped.values():
        positive = [hit for hit in rule_hits if hit.positive]
        support = _unique(s for hit in rule_hits if not hit.suppressed for s in hit.supporting)
        context = [hit for hit in rule_hits if hit.suppressed]
        suppressed = [hit for hit in context if hit.evidence]
        evidence.append(RuleEvidence(rule_hits[0].rule, positive, suppressed, support, context))
    return evidence


def weight(evidence: RuleEvidence) -> float:
    """The weight of evidence for a rule: distinct indicators, support, pages, snippets."""
    if not evidence.positive:
        return 0.0
    distinct: dict[str, float] = {}
    for hit in evidence.positive:
        for label, weight in hit.evidence.items():
            distinct[label] = max(distinct.get(label, 0.0), weight)
    pages = {hit.snippet.url for hit in evidence.positive}
    mentions = _distinct_mentions(evidence.positive)
    total = sum(distinct.values())
    total += min(SUPPORT_WEIGHT * len(evidence.supporting), SUPPORT_CAP)
    total += min(PAGE_WEIGHT * (len(pages) - 1), PAGE_CAP)
    total += min(SNIPPET_WEIGHT * (mentions - 1), SNIPPET_CAP)
    return total


def _distinct_mentions(hits: list[SnippetHit]) -> int:
    """Snippets that show evidence in words of their own; a repeated headline counts once.

    Per page, a snippet counts when one of its matches is a new mention (see
    agent/offline/mentions.py); a hit without recorded mentions (e.g. a model's) counts by
    its text.
    """
    counters: dict[str, MentionCounter] = defaultdict(MentionCounter)
    count = 0
    for hit in hits:
        mentions = hit.mentions or ((f"\x00{hit.snippet.text}",),)
        count += counters[hit.snippet.url].is_new(mentions)
    return count


def category_weights(grouped: Iterable[RuleEvidence]) -> dict[Category, float]:
    totals: dict[Category, float] = defaultdict(float)
    for evidence in grouped:
        totals[evidence.rule.category] += weight(evidence)
    return totals


def effective_weight(evidence: RuleEvidence, totals: dict[Category, float]) -> float:
    """A rule's own weight plus a share of its category's other evidence."""
    own = weight(evidence)
    return own + CATEGORY_SHARE * (totals.get(evidence.rule.category, own) - own)


def confidence(evidence: RuleEvidence, total_weight: float | None = None) -> float:
    """1 - exp(-weight of evidence): monotone in every kind of evidence, below 1."""
    value = 1.0 - math.exp(-(weight(evidence) if total_weight is None else total_weight))
    if evidence.conflicting:
        value *= CONFLICT_FACTOR
    return round(min(value, MAX_CONFIDENCE), 3)


def citations(hits: list[SnippetHit]) -> list[PageCitation]:
    """Up to three quotes, strongest first, preferring different pages and texts."""
    ranked = sorted(
        hits, key=lambda h: (-h.strength, _KIND_ORDER.get(h.snippet.kind, 9), h.snippet.page)
    )
    chosen: list[SnippetHit] = []
    for pass_new_pages in (True, False):
        for hit in ranked:
            if len(chosen) >= MAX_CITATIONS:
                break
            texts = {c.snippet.text for c in chosen}
            pages = {c.snippet.url for c in chosen}
            if hit.snippet.text in texts or (pass_new_pages and hit.snippet.url in pages):
                continue
            chosen.append(hit)
    return [PageCitation(url=hit.snippet.url, quote=hit.snippet.text) for hit in chosen]


def rationale(evidence: RuleEvidence, title: str) -> str:
    met = _unique(label for hit in evidence.positive for label in hit.shown)
    pages = {hit.snippet.url for hit in evidence.positive}
    count = f"{len(pages)} page{'s' if len(pages) > 1 else ''}"
    parts = [f"{title}: met {_quoted(met)} on {count}"]
    if evidence.supporting:
        parts.append(f"supported by {_quoted(evidence.supporting)}")
    if evidence.conflicting:
        lookalikes = _unique(
            label
            for hit in evidence.context
            if hit.snippet.url in pages
            for label in hit.lookalikes
        )
        parts.append(f"lookalike context on the same pages: {_quoted(lookalikes)}")
    return "; ".join(parts)[:2000]


def distinct_indicators(evidence: RuleEvidence) -> int:
    """How many different positive indicators of the rule were met; a `re:` pattern (a
    quantified offer: "22 % de THC", "$3 per spin") counts as enough on its own."""
    labels = {label for hit in evidence.positive for label in hit.evidence}
    if any(label.startswith("re:") for label in labels):
        return max(len(labels), 2)
    return len(labels)


def build_findings(
    hits: Iterable[SnippetHit], min_indicators: int = 1
) -> tuple[list[Finding], list[RuleEvidence]]:
    """Findings for every rule with positive evidence, and the evidence behind each rule.

    `min_indicators`: distinct positive indicators a rule needs (2 on an editorial site,
    where one phrase alone is a topic mention: agent/offline/editorial.py).
    """
    grouped = group_by_rule(hits)
    totals = category_weights(grouped)
    findings = []
    for evidence in grouped:
        total = effective_weight(evidence, totals)
        if not evidence.positive or total < MIN_WEIGHT:
            continue
        if distinct_indicators(evidence) < min_indicators:
            continue
        rule = evidence.rule
        findings.append(
            Finding(
                rule_id=rule.id,
                category=rule.category,
                rationale=rationale(evidence, rule.title),
                citations=list(citations(evidence.positive)),
                confidence=confidence(evidence, total),
            )
        )
    return findings, grouped


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _quoted(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(f'"{item}"' for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
