"""The review graph end to end: real crawler on 127.0.0.1, real store, a hand-written assessor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.assessor import AssessmentRequest
from merchant_review.audit import EventKind, MemoryAudit
from merchant_review.policy import PolicyCorpus
from merchant_review.records import MerchantRecord
from merchant_review.review import Reviewer, ReviewInputError
from merchant_review.settings import Settings
from merchant_review.sitehost import SiteHost
from merchant_review.storage import Store
from merchant_review.taxonomy import Category, Decision
from merchant_review.verdict import Assessment, Finding, PageCitation
from tests.reviewsite import HOST, NIGHT, SITES, thc_corpus
from tools.toolbox import ReviewToolbox


class QuotingAssessor:
    """Proposes one true and one invented THC quote after calling a tool."""

    engine = "test-assessor"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen_pages: list[str] = []

    async def assess(self, request: AssessmentRequest, toolbox: ReviewToolbox) -> Assessment:
        if self.fail:
            raise RuntimeError("assessor exploded")
        self.seen_pages = [page.url for page in request.pages]
        await toolbox.call("search_site_text", {"query": "THC"})
        quotes = ["Each gummy contains 25 mg THC", "Buy 100 mg THC bars"]
        return Assessment(
            engine=self.engine,
            confidence=0.9,
            findings=[
                Finding(
                    rule_id="illegal_drugs.thc",
                    category=Category.ILLEGAL_DRUGS,
                    rationale="THC edibles",
                    citations=[PageCitation(url=NIGHT, quote=q) for q in quotes],
                    confidence=0.9,
                )
            ],
        )


@pytest.fixture
def corpus() -> PolicyCorpus:
    return thc_corpus()


@pytest.fixture
def host() -> Iterator[SiteHost]:
    with SiteHost({HOST: SITES / HOST, "down.example": None}) as running:
        yield running


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'review.db'}")
    store.import_merchants(
        [MerchantRecord(merchant_id="m1", website=f"https://{HOST}/", dba="Greenleaf")]
    )
    return store


def settings_for(host: SiteHost, tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'review.db'}",
        crawl={"origin_overrides": host.origin_overrides(), "allow_private": ["127.0.0.1"]},
    )


async def test_a_review_crawls_verifies_decides_and_is_audited(
    host: SiteHost, store: Store, corpus: PolicyCorpus, tmp_path: Path
) -> None:
    assessor = QuotingAssessor()
    reviewer = Reviewer(settings_for(host, tmp_path), store, assessor=assessor, corpus=corpus)
    async with reviewer:
        verdict = await reviewer.review_merchant("m1")

    assert NIGHT in assessor.seen_pages  # found two clicks from nothing but the home page
    assert verdict.decision is Decision.REJECT
    assert verdict.categories == [Category.ILLEGAL_DRUGS]
    assert [c.quote for c in verdict.citations()] == ["Each gummy contains 25 mg THC"]  # type: ignore[union-attr]
    assert "quote not found" in verdict.rejected_findings[0].reason

    stored = store.get_review(verdict.review_id or "")
    assert stored is not None and stored.parsed_verdict() == verdict
    assert stored.review.corpus_version == "corpus-test"
    steps = [e.name for e in stored.events if e.kind == EventKind.STEP]
    assert steps == ["crawl_website", "retrieve_rules", "assess", "verify_citations", "decide"]
    assert [e.name for e in stored.events if e.kind == EventKind.TOOL_CALL] == ["search_site_text"]
    assert {p.url for p in stored.pages} >= {f"https://{HOST}/", NIGHT}
    assert all(p.raw_sha256 for p in stored.pages if p.status == 200)


async def test_a_review_that_fails_midway_escalates_and_leaves_its_audit_rows(
    host: SiteHost, store: Store, corpus: PolicyCorpus, tmp_path: Path
) -> None:
    reviewer = Reviewer(
        settings_for(host, tmp_path), store, assessor=QuotingAssessor(fail=True), corpus=corpus
    )
    async with reviewer:
        verdict = await reviewer.review_merchant("m1")
    assert verdict.decision is Decision.ESCALATE
    assert verdict.error is not None and "assessor exploded" in verdict.error
    stored = store.get_review(verdict.review_id or "")
    assert stored is not None and stored.verdict is not None
    assert stored.verdict.error == verdict.error
    assess_step = next(e for e in stored.events if e.name == "assess")
    assert assess_step.error is not None
    # The steps after the failed one do not run (nor leave a record): straight to `decide`.
    steps = [e.name for e in stored.events if e.kind == EventKind.STEP]
    assert steps == ["crawl_website", "retrieve_rules", "assess", "decide"]
    assert stored.pages  # the crawl that happened before the failure is kept


async def test_a_url_review_has_no_record_and_an_unreachable_site_escalates(
    host: SiteHost, store: Store, corpus: PolicyCorpus, tmp_path: Path
) -> None:
    reviewer = Reviewer(
        settings_for(host, tmp_path), store, assessor=QuotingAssessor(), corpus=corpus
    )
    async with reviewer:
        profile = await ReviewToolbox(
            merchant_id=None,
            website="https://down.example/",
            pages=[],
            corpus=corpus,
            crawl_settings=reviewer.settings.crawl,
            audit=MemoryAudit(),
        ).call("get_merchant_profile", {})
        verdict = await reviewer.review_url("https://down.example/")
    assert profile["record_exists"] is False
    assert verdict.merchant_id is None
    assert verdict.decision is Decision.ESCALATE  # every invented quote fails: nothing fetched


@pytest.mark.parametrize(
    ("merchant_id", "url", "message"),
    [
        ("nobody", None, "unknown merchant"),
        (None, "ftp://shop.example/", "only http"),
        (None, "https:///nohost", "no host"),
    ],
)
async def test_bad_input_is_refused_before_anything_is_written(
    host: SiteHost,
    store: Store,
    corpus: PolicyCorpus,
    tmp_path: Path,
    merchant_id: str | None,
    url: str | None,
    message: str,
) -> None:
    reviewer = Reviewer(
        settings_for(host, tmp_path), store, assessor=QuotingAssessor(), corpus=corpus
    )
    async with reviewer:
        with pytest.raises(ReviewInputError, match=message):
            if merchant_id:
                await reviewer.review_merchant(merchant_id)
            else:
                await reviewer.review_url(url or "")
    assert store.list_reviews() == []
