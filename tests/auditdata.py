"""Reviews written through the Store API, as the review graph writes them (for audit tests)."""

from __future__ import annotations

from merchant_review.audit import AuditEvent, EventKind
from merchant_review.pages import CrawlReport, Link, PageSnapshot
from merchant_review.records import MerchantRecord
from merchant_review.storage import Store
from merchant_review.taxonomy import Category, Decision
from merchant_review.verdict import Finding, PageCitation, RecordCitation, Verdict

OWNER = "Ada Lovelace-Person"
EMAIL = "ada.person@mailbox.example"
PHONE = "+1 555 0100 777"

MERCHANT = MerchantRecord(
    merchant_id="acct_1",
    website="https://shop.example/",
    legal_name="Shop Holdings LLC",
    dba="Shop",
    mcc=5942,  # type: ignore[arg-type]  # integers from JSON become text
    business_description="Books and stationery",
    owner_name=OWNER,
    email=EMAIL,
    phone=PHONE,
    loyalty_tier="gold",  # an unknown extra field is kept
)

HOME = PageSnapshot(
    url="https://shop.example/",
    requested_url="https://shop.example/",
    status=200,
    content_type="text/html",
    title="Shop",
    text="Welcome to Shop\nWe sell rifles and ammunition",
    links=[Link(url="https://shop.example/about.html", text="About")],
    raw_sha256="a" * 64,
    bytes=120,
)
ABOUT = PageSnapshot(
    url="https://shop.example/about.html",
    requested_url="https://shop.example/about.html",
    status=200,
    title="About",
    text=f"Founded by {OWNER}. Write to {EMAIL}.",
    depth=1,
    found_via="link",
)


def start(store: Store, merchant: MerchantRecord | None = MERCHANT, **extra: object) -> str:
    return store.start_review(
        merchant=merchant,
        website=merchant.website if merchant else "https://shop.example/",
        engine="offline-test",
        model=None,
        prompt_version=None,
        corpus_version="corpus-abc",
        settings_hash="f" * 64,
        **extra,  # type: ignore[arg-type]
    )


def verdict_for(review_id: str, decision: Decision = Decision.REJECT) -> Verdict:
    categories = [Category.WEAPONS] if decision is Decision.REJECT else []
    findings = [
        Finding(
            rule_id="weapons.firearms",
            category=Category.WEAPONS,
            rationale=f"sells rifles; owner {OWNER}",
            citations=[
                PageCitation(url=HOME.url, quote="We sell rifles"),
                RecordCitation(field="owner_name", value=OWNER),
            ],
            confidence=0.9,
        )
    ]
    return Verdict(
        merchant_id=MERCHANT.merchant_id,
        website=MERCHANT.website,
        decision=decision,
        categories=categories,
        confidence=0.9,
        findings=findings if categories else [],
        engine="offline-test",
        corpus_version="corpus-abc",
        review_id=review_id,
    )


def write_review(store: Store, *, finish: bool = True, events: int = 3) -> str:
    """A whole review: crawl with two pages, some events, a verdict (unless not `finish`)."""
    review_id = start(store)
    store.save_crawl(review_id, CrawlReport(start_url=MERCHANT.website, pages=[HOME, ABOUT]))
    for number in range(events):
        store.record_event(
            review_id,
            AuditEvent(
                EventKind.TOOL_CALL,
                "get_merchant_profile" if number == 0 else f"step_{number}",
                {"number": number},
                {"owner_name": OWNER, "dba": "Shop", "note": f"call {number} by {OWNER}"},
                latency_ms=1.5 * number,
            ),
        )
    if finish:
        store.finish_review(review_id, verdict_for(review_id))
    return review_id
