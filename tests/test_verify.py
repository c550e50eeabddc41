"""Citation verification and the decision rules, on hand-made findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.decide import decide_outcome
from agent.verify import verify_findings
from merchant_review.pages import PageSnapshot
from merchant_review.policy import PolicyCorpus, PolicyRule
from merchant_review.records import MerchantRecord
from merchant_review.settings import Settings
from merchant_review.taxonomy import Category, Decision, Tier
from merchant_review.verdict import Assessment, Finding, PageCitation, RecordCitation, SiteStatus


def _rule(rule_id: str, category: Category) -> PolicyRule:
    return PolicyRule(
        id=rule_id,
        category=category,
        tier=category.tier,
        title=rule_id,
        description="test rule",
    )


@pytest.fixture
def corpus() -> PolicyCorpus:
    rules = [
        _rule("illegal_drugs.thc", Category.ILLEGAL_DRUGS),
        _rule("gambling.casino", Category.GAMBLING),
        _rule("business_mismatch.declared", Category.BUSINESS_MISMATCH),
    ]
    return PolicyCorpus(rules, version="corpus-test", source=Path("."))


PAGE = PageSnapshot(
    url="https://shop.example/gummies.html",
    requested_url="https://shop.example/gummies.html",
    status=200,
    title="Night gummies",
    text="Night gummies\nEach gummy contains   25 mg THC\nfrom indica flower.",
    hidden_text="buy cocaine here",
)
MERCHANT = MerchantRecord(
    merchant_id="m1", website="https://shop.example/", mcc="5942", business_description="Books"
)


def finding(category: Category, rule: str, *citations: object, confidence: float = 0.9) -> Finding:
    return Finding(
        rule_id=rule,
        category=category,
        rationale="r",
        citations=list(citations),  # type: ignore[arg-type]
        confidence=confidence,
    )


def test_a_quote_spanning_lines_is_verified_after_whitespace_folding(corpus: PolicyCorpus) -> None:
    cited = finding(
        Category.ILLEGAL_DRUGS,
        "illegal_drugs.thc",
        PageCitation(url=PAGE.url, quote="Each gummy contains 25 mg THC from indica"),
    )
    verified, rejected = verify_findings([cited], [PAGE], MERCHANT, corpus)
    assert [f.rule_id for f in verified] == ["illegal_drugs.thc"]
    assert rejected == []


@pytest.mark.parametrize(
    ("citation", "reason"),
    [
        (PageCitation(url=PAGE.url, quote="contains 50 mg THC"), "quote not found"),
        (PageCitation(url="https://shop.example/other.html", quote="THC"), "no fetched page"),
        (PageCitation(url=PAGE.url, quote="buy cocaine here"), "quote not found"),  # hidden text
        (RecordCitation(field="mcc", value="5999"), "does not hold"),
        (RecordCitation(field="owner", value="x"), "has no field"),
    ],
)
def test_unverifiable_citations_are_refused(
    corpus: PolicyCorpus, citation: object, reason: str
) -> None:
    cited = finding(Category.ILLEGAL_DRUGS, "illegal_drugs.thc", citation)
    verified, rejected = verify_findings([cited], [PAGE], MERCHANT, corpus)
    assert verified == []
    assert len(rejected) == 1 and reason in rejected[0].reason


def test_a_finding_keeps_only_its_verified_citations(corpus: PolicyCorpus) -> None:
    good = PageCitation(url=PAGE.url, quote="25 mg THC")
    bad = PageCitation(url=PAGE.url, quote="100% legal weed")
    verified, rejected = verify_findings(
        [finding(Category.ILLEGAL_DRUGS, "illegal_drugs.thc", good, bad)], [PAGE], None, corpus
    )
    assert verified[0].citations == [good]
    assert rejected[0].finding.citations == [bad]


def test_unknown_rule_or_wrong_category_is_refused(corpus: PolicyCorpus) -> None:
    quote = PageCitation(url=PAGE.url, quote="25 mg THC")
    proposals = [
        finding(Category.ILLEGAL_DRUGS, "illegal_drugs.made_up", quote),
        finding(Category.GAMBLING, "illegal_drugs.thc", quote),
    ]
    verified, rejected = verify_findings(proposals, [PAGE], None, corpus)
    assert verified == []
    assert [r.reason.split(":")[0] for r in rejected] == [
        "unknown policy rule",
        "rule belongs to another category",
    ]


def test_a_failed_page_cannot_be_cited(corpus: PolicyCorpus) -> None:
    broken = PAGE.model_copy(update={"status": 500})
    cited = finding(
        Category.ILLEGAL_DRUGS, "illegal_drugs.thc", PageCitation(url=PAGE.url, quote="25 mg THC")
    )
    verified, _ = verify_findings([cited], [broken], None, corpus)
    assert verified == []


def test_record_citation_verified_against_the_record(corpus: PolicyCorpus) -> None:
    cited = finding(
        Category.BUSINESS_MISMATCH,
        "business_mismatch.declared",
        RecordCitation(field="mcc", value="5942"),
    )
    verified, _ = verify_findings([cited], [PAGE], MERCHANT, corpus)
    assert verified and verified[0].category is Category.BUSINESS_MISMATCH


def _assessment(**kwargs: object) -> Assessment:
    return Assessment(engine="test", confidence=0.9, **kwargs)  # type: ignore[arg-type]


SETTINGS = Settings(database_url="sqlite://")


@pytest.mark.parametrize(
    ("categories", "decision"),
    [
        ([Category.ILLEGAL_DRUGS, Category.TOBACCO_VAPING], Decision.REJECT),
        ([Category.CBD], Decision.REQUEST_INFO),
        ([Category.BUSINESS_MISMATCH], Decision.REQUEST_INFO),
        ([], Decision.APPROVE),
    ],
)
def test_decision_follows_the_taxonomy(categories: list[Category], decision: Decision) -> None:
    verified = [finding(c, f"{c.value}.x") for c in categories]
    outcome = decide_outcome(_assessment(), verified, [], SETTINGS)
    assert outcome.decision is decision
    assert set(outcome.categories) == set(categories)


def test_weak_prohibited_evidence_escalates_rather_than_rejects() -> None:
    weak = finding(Category.WEAPONS, "weapons.x", confidence=0.3)
    outcome = decide_outcome(_assessment(), [weak], [], SETTINGS)
    assert outcome.decision is Decision.ESCALATE
    assert Category.WEAPONS.tier is Tier.PROHIBITED


def test_unreachable_site_escalates_and_evidence_still_decides() -> None:
    thin = _assessment(site_status=SiteStatus.UNREACHABLE)
    assert decide_outcome(thin, [], [], SETTINGS).decision is Decision.ESCALATE
    parked_casino = _assessment(site_status=SiteStatus.PARKED)
    casino = finding(Category.GAMBLING, "gambling.casino")
    assert decide_outcome(parked_casino, [casino], [], SETTINGS).decision is Decision.REQUEST_INFO


def test_evidence_that_all_failed_verification_escalates() -> None:
    from merchant_review.verdict import RejectedFinding

    refused = RejectedFinding(finding=finding(Category.WEAPONS, "weapons.x"), reason="no quote")
    outcome = decide_outcome(_assessment(), [], [refused], SETTINGS)
    assert outcome.decision is Decision.ESCALATE
    assert outcome.confidence < 0.9


def test_an_error_escalates_with_zero_confidence() -> None:
    outcome = decide_outcome(None, [], [], SETTINGS, error="crawl failed")
    assert outcome.decision is Decision.ESCALATE and outcome.confidence == 0.0


def test_a_low_confidence_approval_escalates() -> None:
    unsure = Assessment(engine="test", confidence=0.2)
    assert decide_outcome(unsure, [], [], SETTINGS).decision is Decision.ESCALATE
