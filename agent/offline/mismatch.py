"""business_mismatch: the site's main business against the merchant's declaration.

Conservative by design. A mismatch needs a record that declares a recognisable line of
business (by MCC or description), a site whose business snippets are clearly dominated by
one other line of business (ordinary goods, or a policy category supported by strong
findings), and the declared business being largely absent from the site. A related side
line is never a mismatch, and a URL-only review (no record) cannot have one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.offline.sectors import Declaration, Lexicon, lexicon, merchant_names
from agent.offline.snippets import Snippet
from merchant_review.mcc import describe
from merchant_review.policy import PolicyCorpus
from merchant_review.records import MerchantRecord
from merchant_review.taxonomy import Category
from merchant_review.verdict import Citation, Finding, PageCitation, RecordCitation

MIN_SNIPPETS = 3  # distinct snippets that must show the site's main business
MIN_SHARE = 0.4  # of all business snippets that show some line of business
MAX_DECLARED_RATIO = 1 / 3  # declared business may show at most this much of the main one
RELATED_SHARE = 0.5  # a related line (pet toys on a declared toy shop) half-shows it
PAGE_QUOTES = 2
GOODS_RULE = "business_mismatch.undeclared_goods"
HIGH_RISK_RULE = "business_mismatch.undeclared_high_risk"


def _main_business(shown: Mapping[str, list[Snippet]]) -> tuple[str, list[Snippet]] | None:
    if not shown:
        return None
    ranked = sorted(shown.items(), key=lambda item: (-len(item[1]), item[0]))
    top, evidence = ranked[0]
    total = sum(len(snippets) for snippets in shown.values())
    if len(evidence) < MIN_SNIPPETS or len(evidence) / total < MIN_SHARE:
        return None
    return top, evidence


def _declared_support(
    lex: Lexicon, shown: Mapping[str, list[Snippet]], declared: Declaration
) -> float:
    """How much of the site shows the declared business (a related line counts half)."""
    support = 0.0
    for sector, snippets in shown.items():
        if sector in declared.sectors:
            support = max(support, float(len(snippets)))
        elif any(lex.related(sector, d) for d in declared.sectors):
            support = max(support, RELATED_SHARE * len(snippets))
    return support


def _record_citations(merchant: MerchantRecord, declared: Declaration) -> list[Citation]:
    cited: list[Citation] = []
    if declared.by_mcc and merchant.mcc:
        cited.append(RecordCitation(field="mcc", value=merchant.mcc))
    if declared.by_description and merchant.business_description:
        value = merchant.business_description[:600]
        cited.append(RecordCitation(field="business_description", value=value))
    return cited


def _page_quotes(evidence: Sequence[Snippet]) -> list[PageCitation]:
    """Quotes that show the site's main business: products first, different pages first."""
    ranked = sorted(evidence, key=lambda s: (s.kind != "product", s.kind != "heading", s.page))
    chosen: list[Snippet] = []
    for new_pages_only in (True, False):
        for snippet in ranked:
            if len(chosen) >= PAGE_QUOTES or snippet in chosen:
                continue
            if new_pages_only and any(c.url == snippet.url for c in chosen):
                continue
            chosen.append(snippet)
    return [PageCitation(url=snippet.url, quote=snippet.text) for snippet in chosen]


def _confidence(main: int, declared_support: float) -> float:
    strength = min(main, 8) / 8
    purity = 1 - declared_support / main
    return round(0.5 + 0.45 * strength * purity, 3)


def _declared_words(merchant: MerchantRecord) -> str:
    parts = []
    if merchant.business_description:
        parts.append(repr(merchant.business_description[:160]))
    if merchant.mcc:
        parts.append(f"MCC {merchant.mcc} ({describe(merchant.mcc) or 'unknown code'})")
    return " / ".join(parts)


def mismatch_finding(
    merchant: MerchantRecord | None,
    snippets: Sequence[Snippet],
    category_evidence: Mapping[Category, list[Snippet]],
    corpus: PolicyCorpus,
) -> Finding | None:
    """A business_mismatch finding when the site clearly shows an undeclared business."""
    lex = lexicon()
    declared = lex.declared(merchant)
    if merchant is None or not declared.sectors:
        return None
    shown = lex.site_profile(snippets, merchant_names(merchant))
    shown.update({category.value: list(found) for category, found in category_evidence.items()})
    main = _main_business(shown)
    if main is None or any(lex.related(main[0], d) for d in declared.sectors):
        return None
    sector, evidence = main
    support = _declared_support(lex, shown, declared)
    if support > MAX_DECLARED_RATIO * len(evidence):
        return None
    rule = corpus.get(HIGH_RISK_RULE if lex.sectors[sector].is_category else GOODS_RULE)
    if rule is None:
        return None
    pages = len({snippet.url for snippet in evidence})
    rationale = (
        f"{rule.title}. Declared: {_declared_words(merchant)}, read as "
        f"{', '.join(sorted(declared.sectors))}. The site shows {sector.replace('_', ' ')} in "
        f"{len(evidence)} snippets on {pages} page(s); the declared business in {support:g}."
    )
    return Finding(
        rule_id=rule.id,
        category=rule.category,
        rationale=rationale[:2000],
        citations=[*_record_citations(merchant, declared), *_page_quotes(evidence)],
        confidence=_confidence(len(evidence), support),
    )
