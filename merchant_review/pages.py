"""Fetched pages: what the crawler returns and what citations are checked against."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from pydantic import BaseModel, Field

_WS = re.compile(r"\s+")


def fold(text: str) -> str:
    """Whitespace-folded, NFKC-normalised text: the form in which quotes are compared."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip()


class Link(BaseModel):
    url: str
    text: str = ""


class PageSnapshot(BaseModel):
    """One fetched URL and what a reviewer would see on it.

    `text` is the visible main text; `hidden_text` holds text a visitor does not see
    (display:none, hidden attributes, HTML comments): kept and marked, never mixed in.
    """

    url: str = Field(description="the logical URL after redirects")
    requested_url: str
    status: int | None = None
    content_type: str | None = None
    title: str = ""
    text: str = ""
    hidden_text: str = ""
    meta: dict[str, str] = Field(default_factory=dict)
    image_alts: list[str] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    raw_sha256: str | None = None
    bytes: int = 0
    truncated: bool = False
    depth: int = 0
    found_via: str = "seed"  # seed | link | sitemap | agent
    error: str | None = None
    fetched_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def citable_text(self) -> str:
        """What a visitor sees: title, visible text, image alt text, meta description."""
        parts = [self.title, self.text, *self.image_alts]
        if description := self.meta.get("description"):
            parts.append(description)
        return "\n".join(part for part in parts if part)


class CrawlReport(BaseModel):
    """The outcome of crawling one site: pages plus what was skipped and why."""

    start_url: str
    pages: list[PageSnapshot] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict, description="url -> reason")
    robots_found: bool = False
    sitemap_urls: int = 0
    total_bytes: int = 0
    elapsed_s: float = 0.0
    stopped_because: str | None = None

    @property
    def ok_pages(self) -> list[PageSnapshot]:
        return [page for page in self.pages if page.ok]


def quote_in_text(quote: str, text: str) -> bool:
    folded = fold(quote)
    return bool(folded) and folded in fold(text)
