"""The review graph's state: what each node reads and adds."""

from __future__ import annotations

from typing import TypedDict

from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.policy import RetrievedRule
from merchant_review.records import MerchantRecord
from merchant_review.verdict import Assessment, Finding, RejectedFinding, Verdict


class ReviewInput(TypedDict):
    merchant: MerchantRecord | None
    website: str


class ReviewState(ReviewInput, total=False):
    review_id: str
    crawl: CrawlReport
    pages: list[PageSnapshot]  # crawled pages plus pages the agent fetched
    pages_saved: int  # how many of `pages` the audit log already holds
    rules: list[RetrievedRule]
    assessment: Assessment
    verified_findings: list[Finding]
    rejected_findings: list[RejectedFinding]
    verdict: Verdict
    error: str | None
