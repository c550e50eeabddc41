"""Quotes in the context of their page: where a cited quote stands, to highlight it.

Citations are verified on whitespace-folded NFKC text (merchant_review.pages.fold), so a
quote is located the same way: in the NFKC form of the page's citable text, with any run
of whitespace in the quote matching any run on the page. Text is returned as plain
segments; templates escape every one and wrap the quoted ones in <mark>.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from agent.verify import normalise_url
from merchant_review.pages import PageSnapshot, fold

CONTEXT_CHARS = 240


@dataclass(frozen=True)
class Segment:
    """A run of page text; `marked` when it is (part of) a cited quote."""

    text: str
    marked: bool = False


@dataclass(frozen=True)
class Excerpt:
    """A quote with the page text around it."""

    before: str
    quote: str
    after: str
    clipped_before: bool
    clipped_after: bool


def normal_text(text: str) -> str:
    """The form of page text that quotes are located in."""
    return unicodedata.normalize("NFKC", text)


def _pattern(quote: str) -> re.Pattern[str] | None:
    words = fold(quote).split(" ")
    if not words or words == [""]:
        return None
    return re.compile(r"\s+".join(re.escape(word) for word in words))


def locate(quote: str, text: str) -> tuple[int, int] | None:
    """(start, end) of the quote in `text` (already NFKC), or None."""
    pattern = _pattern(quote)
    if pattern is None:
        return None
    found = pattern.search(text) or re.compile(pattern.pattern, re.IGNORECASE).search(text)
    return found.span() if found else None


def excerpt(quote: str, page: PageSnapshot, radius: int = CONTEXT_CHARS) -> Excerpt | None:
    """The quote in the context of its page (None when it is not on the page)."""
    text = normal_text(page.citable_text())
    span = locate(quote, text)
    if span is None:
        return None
    start, end = span
    left, right = max(0, start - radius), min(len(text), end + radius)
    return Excerpt(
        before=text[left:start],
        quote=text[start:end],
        after=text[end:right],
        clipped_before=left > 0,
        clipped_after=right < len(text),
    )


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def highlighted(text: str, quotes: list[str]) -> list[Segment]:
    """`text` (NFKC) cut into segments, the quoted parts marked."""
    spans = [span for quote in quotes if (span := locate(quote, text)) is not None]
    segments, position = [], 0
    for start, end in _merged(spans):
        if start > position:
            segments.append(Segment(text[position:start]))
        segments.append(Segment(text[start:end], marked=True))
        position = end
    if position < len(text):
        segments.append(Segment(text[position:]))
    return segments


def find_page(pages: list[PageSnapshot], url: str) -> int | None:
    """Index of the page a citation names (a successfully fetched one first)."""
    wanted = normalise_url(url)
    matches = [
        i
        for i, page in enumerate(pages)
        if wanted in (normalise_url(page.url), normalise_url(page.requested_url))
    ]
    ok = [i for i in matches if pages[i].ok]
    return (ok or matches)[0] if matches else None
