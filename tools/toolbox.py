"""The tools one review may call, bound to that review and audited call by call.

The LLM agent sees them as OpenAI function tools (`specs()`); each call goes through
`call()`, which validates arguments, runs the typed function and records a tool_call event.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field, ValidationError

from merchant_review.audit import AuditEvent, AuditSink, EventKind
from merchant_review.pages import PageSnapshot, fold
from merchant_review.policy import PolicyCorpus
from merchant_review.settings import CrawlSettings
from tools import records as records_tools
from tools.records import RecordsSource


class FetchPageArgs(BaseModel):
    url: str = Field(description="absolute URL on the merchant's site")


class SearchSiteArgs(BaseModel):
    query: str = Field(min_length=1, max_length=200)


class SearchPoliciesArgs(BaseModel):
    query: str = Field(min_length=1, max_length=300, description="what is sold or done")


class NoArgs(BaseModel):
    pass


class ToolError(Exception):
    """A tool call the agent made that cannot be carried out (reported back to the model)."""


def _site_key(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


class ReviewToolbox:
    """Tools over one merchant's fetched site, its record, and the policy corpus."""

    def __init__(
        self,
        *,
        merchant_id: str | None,
        website: str,
        pages: list[PageSnapshot],
        corpus: PolicyCorpus,
        crawl_settings: CrawlSettings,
        audit: AuditSink,
        records: RecordsSource | None = None,
        http_client: httpx.AsyncClient | None = None,
        include_personal: bool = False,
        max_agent_fetches: int = 6,
        max_agent_bytes: int | None = None,
    ) -> None:
        self.merchant_id = merchant_id
        self.website = website
        self.pages = pages
        self.corpus = corpus
        self.crawl_settings = crawl_settings
        self.audit = audit
        self.records = records
        self.http_client = http_client
        self.include_personal = include_personal
        self.fetches_left = max_agent_fetches
        # What the crawl left of the review's byte budget (None: only the per-page cap).
        self.bytes_left = max_agent_bytes
        self._tools: dict[str, tuple[type[BaseModel], Callable[..., Awaitable[Any]]]] = {
            "fetch_page": (FetchPageArgs, self.fetch_page),
            "search_site_text": (SearchSiteArgs, self.search_site_text),
            "list_pages": (NoArgs, self.list_pages),
            "get_merchant_profile": (NoArgs, self.get_merchant_profile),
            "get_risk_figures": (NoArgs, self.get_risk_figures),
            "get_prior_reviews": (NoArgs, self.get_prior_reviews),
            "search_policies": (SearchPoliciesArgs, self.search_policies),
        }

    # -- the tools -------------------------------------------------------------------------

    async def fetch_page(self, url: str) -> dict[str, Any]:
        """Another page of the merchant's site: its visible text."""
        from tools.crawler import fetch_page  # the crawler's guarded single-page fetch

        if _site_key(url) != _site_key(self.website):
            raise ToolError("only pages on the merchant's own site can be fetched")
        known = next((p for p in self.pages if p.url == url or p.requested_url == url), None)
        if known is None:
            if self.fetches_left <= 0:
                raise ToolError("page fetch budget exhausted")
            if self.bytes_left is not None and self.bytes_left <= 0:
                raise ToolError("page byte budget exhausted")
            self.fetches_left -= 1
            known = await fetch_page(
                url, self._fetch_settings(), client=self.http_client, found_via="agent"
            )
            self.pages.append(known)
            if self.bytes_left is not None:
                self.bytes_left -= known.bytes
        return {
            "url": known.url,
            "status": known.status,
            "error": known.error,
            "title": known.title,
            "text": known.text[:6000],
            "links": [link.url for link in known.links[:40]],
        }

    def _fetch_settings(self) -> CrawlSettings:
        """The crawl settings, with the page cap lowered to the bytes the review has left."""
        if self.bytes_left is None or self.bytes_left >= self.crawl_settings.max_bytes_per_page:
            return self.crawl_settings
        return self.crawl_settings.model_copy(update={"max_bytes_per_page": self.bytes_left})

    async def search_site_text(self, query: str) -> dict[str, Any]:
        """Snippets of the fetched pages' text around a phrase."""
        pattern = re.compile(re.escape(fold(query)), re.IGNORECASE)
        hits: list[dict[str, str]] = []
        for page in self.pages:
            text = fold(page.citable_text())
            for match in pattern.finditer(text):
                start, end = max(0, match.start() - 160), min(len(text), match.end() + 160)
                hits.append({"url": page.url, "snippet": text[start:end]})
                if len(hits) >= 12:
                    return {"query": query, "hits": hits, "truncated": True}
        return {"query": query, "hits": hits, "truncated": False}

    async def list_pages(self) -> dict[str, Any]:
        """Pages fetched so far."""
        return {
            "pages": [
                {"url": p.url, "status": p.status, "title": p.title, "error": p.error}
                for p in self.pages
            ]
        }

    async def get_merchant_profile(self) -> dict[str, Any]:
        """The declared record: names, country, MCC, description."""
        if self.records is None:
            return {"record_exists": False, "note": "no stored record"}
        return records_tools.get_merchant_profile(
            self.records, self.merchant_id, include_personal=self.include_personal
        )

    async def get_risk_figures(self) -> dict[str, Any]:
        """Volume, dispute and refund rates, account age."""
        if self.records is None:
            return {"record_exists": False, "note": "no stored record"}
        return records_tools.get_risk_figures(self.records, self.merchant_id)

    async def get_prior_reviews(self) -> dict[str, Any]:
        """Earlier reviews of this merchant."""
        if self.records is None:
            return {"record_exists": False, "note": "no stored record"}
        return records_tools.get_prior_reviews(self.records, self.merchant_id)

    async def search_policies(self, query: str) -> dict[str, Any]:
        """Policy rules for what a business sells or does."""
        return {"rules": [hit.rule.summary() for hit in self.corpus.search(query, k=5)]}

    # -- dispatch --------------------------------------------------------------------------

    def specs(self) -> list[dict[str, Any]]:
        """OpenAI function-tool definitions for every tool."""
        return [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": (function.__doc__ or name).strip(),
                    "parameters": model.model_json_schema(),
                },
            }
            for name, (model, function) in self._tools.items()
        ]

    async def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Run a tool by name; errors come back as {"error": ...} for the model to read."""
        started = time.perf_counter()
        output: dict[str, Any]
        error: str | None = None
        try:
            if name not in self._tools:
                raise ToolError(f"unknown tool {name!r}")
            model, function = self._tools[name]
            args = model.model_validate(arguments)
            output = await function(**args.model_dump())
        except (ToolError, ValidationError) as exc:
            error = str(exc)
            output = {"error": error}
        self.audit.record(
            AuditEvent(
                kind=EventKind.TOOL_CALL,
                name=name,
                input=arguments,
                output=output,
                latency_ms=(time.perf_counter() - started) * 1000,
                error=error,
            )
        )
        return output
