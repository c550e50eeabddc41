"""Incremental re-review: skip a merchant whose site and record are unchanged.

A merchant's previous review is carried forward (no new review, no model call) when it
reached a verdict without error and it ran with the same engine, model, prompt, corpus
and verdict-shaping settings, on the same merchant record (record hash), and a fresh
crawl of the site fetches the same pages with the same bytes (the set of (URL, status,
raw sha256) of the crawled pages; pages an LLM agent fetched itself are not compared).
The fresh crawl is not wasted when something did change: the review uses it (the
`Prefetched` page source) instead of crawling again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from merchant_review.audit import sha256_of
from merchant_review.batch.history import PreviousReview
from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.records import MerchantRecord
from merchant_review.review import settings_record
from merchant_review.settings import CrawlSettings, Settings
from merchant_review.storage import Store
from merchant_review.storage.schema import PageRow

AGENT = "agent"  # found_via of pages an LLM agent fetched during its assessment
NOT_SHAPING = ("crawl",)  # settings that decide what is fetched, not how it is judged


@dataclass(frozen=True)
class Versions:
    """What a review's verdict depends on besides the merchant and its site."""

    engine: str
    model: str | None
    prompt_version: str | None
    corpus_version: str
    settings_hash: str

    def record(self) -> dict[str, str | None]:
        return {
            "engine": self.engine,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "corpus_version": self.corpus_version,
        }


def shaping_hash(settings: dict[str, Any] | None) -> str:
    """Hash of the stored settings that shape a verdict (not the crawl limits)."""
    kept = {k: v for k, v in (settings or {}).items() if k not in NOT_SHAPING}
    return sha256_of(kept)


def current_versions(
    settings: Settings, engine: str, prompt_version: str | None, corpus_version: str
) -> Versions:
    """The versions a review run now would record (as the graph's load_merchant does)."""
    return Versions(
        engine=engine,
        model=settings.model.name if "llm" in engine else None,
        prompt_version=prompt_version,
        corpus_version=corpus_version,
        settings_hash=shaping_hash(settings_record(settings)),
    )


def may_carry(previous: PreviousReview, versions: Versions, record: MerchantRecord) -> bool:
    """Everything but the site content allows carrying the previous verdict forward."""
    return (
        previous.error is None
        and previous.settings is not None
        and (previous.engine, previous.model, previous.prompt_version, previous.corpus_version)
        == (versions.engine, versions.model, versions.prompt_version, versions.corpus_version)
        and shaping_hash(previous.settings) == versions.settings_hash
        and previous.record_hash == sha256_of(record.fields(include_personal=True))
    )


def _fingerprint(pages: Iterable[tuple[str, int | None, str | None]]) -> str:
    lines = sorted(f"{url}\t{status}\t{raw}" for url, status, raw in pages)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def site_hash(pages: Iterable[PageSnapshot]) -> str:
    """Fingerprint of crawled pages: their URLs, statuses and raw content hashes."""
    return _fingerprint((p.url, p.status, p.raw_sha256) for p in pages if p.found_via != AGENT)


def stored_site_hash(store: Store, review_id: str) -> str:
    """The same fingerprint of the pages a stored review crawled."""
    query = select(PageRow.url, PageRow.status, PageRow.raw_sha256).where(
        PageRow.review_id == review_id, PageRow.found_via != AGENT
    )
    with store.session() as session:
        return _fingerprint((url, status, raw) for url, status, raw in session.execute(query))


class Prefetched:
    """A page source that serves a crawl made beforehand once, else crawls live."""

    def __init__(self) -> None:
        self._reports: dict[str, CrawlReport] = {}

    def put(self, report: CrawlReport, website: str) -> None:
        self._reports[website] = report

    def discard(self, website: str) -> None:
        self._reports.pop(website, None)

    async def crawl(
        self, website: str, settings: CrawlSettings, client: httpx.AsyncClient
    ) -> CrawlReport:
        report = self._reports.pop(website, None)
        if report is not None:
            return report
        from tools.crawler import crawl_site

        return await crawl_site(website, settings, client=client)
