"""A merchant site served on 127.0.0.1 and a deterministic assessor: whole reviews to replay.

`EvidenceAssessor` decides from the evidence it is given, as an engine should: it fetches
one page through the toolbox (an agent fetch), reads the merchant's prior reviews, and
cites the first line mentioning a rifle on each page. Run twice on the same evidence and
the same history, it proposes the same thing.
"""

from __future__ import annotations

from pathlib import Path

from agent.assessor import AssessmentRequest
from merchant_review.policy import PolicyCorpus, PolicyRule
from merchant_review.records import MerchantRecord
from merchant_review.review import Reviewer
from merchant_review.settings import Settings
from merchant_review.sitehost import SiteHost
from merchant_review.storage import Store
from merchant_review.taxonomy import Category
from merchant_review.verdict import Assessment, Finding, PageCitation, Verdict
from tools.toolbox import ReviewToolbox

SITES = Path(__file__).parent / "fixtures" / "audit_sites"
HOST = "outdoor.example"
WEBSITE = f"https://{HOST}/"
CONTACT = f"https://{HOST}/contact"
OWNER = "Jo Ranger-Smith"

MERCHANT = MerchantRecord(
    merchant_id="acct_outdoor",
    website=WEBSITE,
    legal_name="Outdoor Supply Company LLC",
    dba="Outdoor Supply Co.",
    mcc="5941",
    business_description="Camping and hiking equipment",
    owner_name=OWNER,
    owner_email="jo@ranger.example",
)


def corpus() -> PolicyCorpus:
    rules = [
        PolicyRule(
            id="weapons.firearms",
            category=Category.WEAPONS,
            tier=Category.WEAPONS.tier,
            title="Firearms",
            description="Firearms and their parts.",
        )
    ]
    return PolicyCorpus(rules, version="corpus-audit-test", source=SITES)


class EvidenceAssessor:
    """Finds rifles on the pages it is shown; its summary depends on what it looked up."""

    engine = "evidence-test@1"

    def __init__(self, confidence: float = 0.9) -> None:
        self.confidence = confidence

    async def assess(self, request: AssessmentRequest, toolbox: ReviewToolbox) -> Assessment:
        contact = await toolbox.call("fetch_page", {"url": CONTACT})
        prior = await toolbox.call("get_prior_reviews", {})
        findings = [
            Finding(
                rule_id="weapons.firearms",
                category=Category.WEAPONS,
                rationale="rifles are sold",
                citations=[PageCitation(url=page.url, quote=line)],
                confidence=self.confidence,
            )
            for page in request.pages
            if page.ok and (line := _first_line_with("rifle", page.text))
        ]
        summary = (
            f"{len(request.pages)} pages; contact: {contact.get('title')}; "
            f"{len(prior.get('reviews', []))} prior reviews"
        )
        return Assessment(
            engine=self.engine, findings=findings, business_summary=summary, confidence=0.8
        )


def _first_line_with(word: str, text: str) -> str:
    return next((line for line in text.splitlines() if word in line.lower()), "")


def settings_for(database_url: str, host: SiteHost) -> Settings:
    return Settings(
        database_url=database_url,
        crawl={
            "origin_overrides": host.origin_overrides(),
            "allow_private": ["127.0.0.1"],
            "max_pages": 3,  # /contact is left for the agent to fetch
        },
    )


async def review_outdoor(store: Store, settings: Settings) -> Verdict:
    """One real review of the outdoor site: real crawler, real graph, real store."""
    store.import_merchants([MERCHANT])
    reviewer = Reviewer(settings, store, assessor=EvidenceAssessor(), corpus=corpus())
    async with reviewer:
        return await reviewer.review_merchant(MERCHANT.merchant_id)
