"""What a review run depends on, injected into the graph (LangGraph runtime context)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import httpx

from agent.assessor import Assessor
from merchant_review.pages import CrawlReport
from merchant_review.policy import PolicyCorpus
from merchant_review.settings import CrawlSettings, Settings
from merchant_review.storage import Store
from tools.records import RecordsSource


class PageSource(Protocol):
    """Where the crawl node gets the merchant's pages: the live site, or stored evidence."""

    async def crawl(
        self, website: str, settings: CrawlSettings, client: httpx.AsyncClient
    ) -> CrawlReport: ...


class LiveCrawl:
    """The real crawler (the default page source)."""

    async def crawl(
        self, website: str, settings: CrawlSettings, client: httpx.AsyncClient
    ) -> CrawlReport:
        from tools.crawler import crawl_site

        return await crawl_site(website, settings, client=client)


@dataclass
class ReviewContext:
    settings: Settings
    store: Store
    assessor: Assessor
    corpus: PolicyCorpus
    http_client: httpx.AsyncClient
    settings_hash: str
    trigger: str = "cli"
    eval_run_id: str | None = None
    batch_run_id: str | None = None
    # Replay seams (merchant_review/replay.py): stored pages instead of the live site, the
    # records as the original review saw them, and the review being replayed.
    page_source: PageSource = field(default_factory=LiveCrawl)
    records: RecordsSource | None = None  # None: the store
    replay_of: str | None = None
    # The review the run opened (load_merchant): the Reviewer writes out its deferred audit
    # records however the run ends (merchant_review/storage/pending.py).
    opened: list[str] = field(default_factory=list)
