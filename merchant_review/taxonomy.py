"""The policy taxonomy contract (shared/spec/policy-taxonomy.md) in code.

Category ids, tiers and the decision rules are a contract: datasets, dashboards
and the audit log depend on them. Change them only with the spec.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Tier(StrEnum):
    PROHIBITED = "prohibited"
    RESTRICTED = "restricted"
    FINDING = "finding"


class Category(StrEnum):
    ADULT_CONTENT = "adult_content"
    ILLEGAL_DRUGS = "illegal_drugs"
    PHARMA_UNLICENSED = "pharma_unlicensed"
    WEAPONS = "weapons"
    COUNTERFEIT_IP = "counterfeit_ip"
    GET_RICH_QUICK = "get_rich_quick"
    HATE_VIOLENCE = "hate_violence"
    GAMBLING = "gambling"
    CBD = "cbd"
    TOBACCO_VAPING = "tobacco_vaping"
    FINANCIAL_SERVICES = "financial_services"
    BUSINESS_MISMATCH = "business_mismatch"

    @property
    def tier(self) -> Tier:
        return TIERS[self]


TIERS: dict[Category, Tier] = {
    Category.ADULT_CONTENT: Tier.PROHIBITED,
    Category.ILLEGAL_DRUGS: Tier.PROHIBITED,
    Category.PHARMA_UNLICENSED: Tier.PROHIBITED,
    Category.WEAPONS: Tier.PROHIBITED,
    Category.COUNTERFEIT_IP: Tier.PROHIBITED,
    Category.GET_RICH_QUICK: Tier.PROHIBITED,
    Category.HATE_VIOLENCE: Tier.PROHIBITED,
    Category.GAMBLING: Tier.RESTRICTED,
    Category.CBD: Tier.RESTRICTED,
    Category.TOBACCO_VAPING: Tier.RESTRICTED,
    Category.FINANCIAL_SERVICES: Tier.RESTRICTED,
    Category.BUSINESS_MISMATCH: Tier.FINDING,
}

DESCRIPTIONS: dict[Category, str] = {
    Category.ADULT_CONTENT: "sexually explicit material, live cams, escort and other sexual "
    "services, adult dating for pay",
    Category.ILLEGAL_DRUGS: "illegal or controlled drugs (marijuana/THC included), legal highs, "
    "synthetic cannabinoids, psychedelics, drug paraphernalia marketed for drug use",
    Category.PHARMA_UNLICENSED: "prescription-only medicines sold without a prescription or "
    "pharmacy licence, and pseudo-pharmaceuticals with unproven claims to cure or treat disease",
    Category.WEAPONS: "firearms, ammunition, firearm parts and kits (receivers, 80% lowers, bump "
    "stocks), silencers, explosives and fireworks sold as weapons, tasers sold as weapons",
    Category.COUNTERFEIT_IP: "counterfeit or replica branded goods, unauthorised copies of "
    "software, media or streams, fake documents",
    Category.GET_RICH_QUICK: "pyramid and multi-level marketing schemes that pay for recruitment, "
    "guaranteed-returns investment or trading programmes, get-rich-quick courses",
    Category.HATE_VIOLENCE: "goods or content that promote hate, violence or terrorism",
    Category.GAMBLING: "games of chance for money or prizes: casinos, betting, lotteries, paid "
    "sweepstakes, skill games with cash prizes",
    Category.CBD: "hemp-derived CBD products without THC claims (oils, edibles, cosmetics)",
    Category.TOBACCO_VAPING: "tobacco, e-cigarettes, vape devices and e-liquids, nicotine pouches",
    Category.FINANCIAL_SERVICES: "money transmission, currency or crypto exchange, crypto "
    "wallets, lending and debt relief, payment facilitation for third parties",
    Category.BUSINESS_MISMATCH: "the business the website shows differs materially from the one "
    "the merchant declared (description or MCC): a sign of transaction laundering",
}


class Decision(StrEnum):
    REJECT = "reject"
    REQUEST_INFO = "request_info"
    ESCALATE = "escalate"
    APPROVE = "approve"


def decide(supported: Iterable[Category], *, insufficient_evidence: bool) -> Decision:
    """Apply the taxonomy's decision table to the categories that verified evidence supports.

    `insufficient_evidence` covers the spec's escalate conditions (site unreachable, empty,
    under construction, conflicting signals, low confidence). A supported prohibited or
    restricted category still decides the case: evidence on the page outranks a thin site.
    """
    tiers = {category.tier for category in supported}
    if Tier.PROHIBITED in tiers:
        return Decision.REJECT
    if Tier.RESTRICTED in tiers or Tier.FINDING in tiers:
        return Decision.REQUEST_INFO
    if insufficient_evidence:
        return Decision.ESCALATE
    return Decision.APPROVE
