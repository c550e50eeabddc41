"""What the crawl found at the merchant's address: operating, unreachable, empty, parked,
or under construction, from fetch results and a few phrases in four languages.

A phrase only decides the status on a thin site, and only as its headline (or on a site
of a page or two): "new products coming soon" on a shop is an operating site.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from agent.offline.snippets import Snippet
from agent.offline.textmatch import any_of, phrase_pattern, words
from merchant_review.pages import PageSnapshot
from merchant_review.verdict import SiteStatus

EMPTY_WORDS = 25  # ok pages with fewer words than this show nothing to review
THIN_WORDS = 250  # below this, a parking or construction notice describes the site...
FEW_PAGES = 2  # ...if the site has hardly any pages or the notice is its title or heading
PROMINENT = frozenset({"title", "heading"})
# A notice stands on its own: "coming soon" inside a longer line is a listing's section
# ("showtimes tickets theater coming soon movie news..."), not the state of the site.
NOTICE_WORDS = 20

PARKED = (
    "this domain is for sale",
    "this domain may be for sale",
    "domain is for sale",
    "buy this domain",
    "domain for sale",
    "parked free",
    "parked domain",
    "domain parking",
    "this web page is parked",
    "this domain is parked",
    "courtesy of godaddy",
    "this domain has been registered",
    "related searches",
    "sponsored listings",
    "este dominio está en venta",
    "dominio en venta",
    "diese domain steht zum verkauf",
    "diese domain kaufen",
    "diese domain ist geparkt",
    "ce domaine est à vendre",
    "nom de domaine à vendre",
    "domaine parqué",
)
UNDER_CONSTRUCTION = (
    "under construction",
    "coming soon",
    "launching soon",
    "opening soon",
    "check back soon",
    "website is being built",
    "site is being built",
    "under maintenance",
    "welcome to nginx",
    "apache2 default page",
    "default web site page",
    "en construcción",
    "sitio en mantenimiento",
    "próximamente",
    "im aufbau",
    "in kürze verfügbar",
    "wartungsarbeiten",
    "baustelle",
    "en construction",
    "en cours de construction",
    "bientôt disponible",
    "site en maintenance",
)
_PARKED = re.compile(any_of(phrase_pattern(p) for p in PARKED))
_CONSTRUCTION = re.compile(any_of(phrase_pattern(p) for p in UNDER_CONSTRUCTION))


@dataclass(frozen=True)
class StatusReport:
    status: SiteStatus
    reason: str | None  # why the site is not operating, in words; None when it is
    words: int  # words of citable text on the ok pages
    ok_pages: int
    # The same text's content words (English function words left out): how much a page
    # says, whether or not its text kept its function words (agent/offline/outcome.py).
    content_words: int = 0


def content_words(snippets: Sequence[Snippet]) -> int:
    """Words of the snippets that are not English function words ("the", "our", "with")."""
    return sum(1 for s in snippets for w in words(s.folded) if w not in ENGLISH_STOP_WORDS)


def _first_notice(pattern: re.Pattern[str], snippets: Sequence[Snippet]) -> Snippet | None:
    """The first prominent or short snippet that says the site is parked / being built."""
    return next(
        (
            s
            for s in snippets
            if (s.kind in PROMINENT or len(s.text.split()) <= NOTICE_WORDS)
            and pattern.search(s.folded)
        ),
        None,
    )


def _unreachable_reason(pages: list[PageSnapshot]) -> str:
    if not pages:
        return "no page could be fetched"
    first = pages[0]
    why = first.error or (f"HTTP {first.status}" if first.status else "no response")
    return f"no page could be fetched ({first.url}: {why})"


def site_status(pages: list[PageSnapshot], snippets: Sequence[Snippet]) -> StatusReport:
    """Classify the site from its pages and the snippets of its ok pages."""
    ok = [page for page in pages if page.ok]
    if not ok:
        return StatusReport(SiteStatus.UNREACHABLE, _unreachable_reason(pages), 0, 0)
    word_count = sum(len(snippet.text.split()) for snippet in snippets)
    counts = (word_count, len(ok), content_words(snippets))
    if word_count < THIN_WORDS:
        for pattern, status in (
            (_PARKED, SiteStatus.PARKED),
            (_CONSTRUCTION, SiteStatus.UNDER_CONSTRUCTION),
        ):
            notice = _first_notice(pattern, snippets)
            if notice is not None and (len(ok) <= FEW_PAGES or notice.kind in PROMINENT):
                reason = f"the site is {status.value.replace('_', ' ')}: {notice.text[:120]!r}"
                return StatusReport(status, reason, *counts)
    if word_count < EMPTY_WORDS:
        reason = f"the site shows almost no text ({word_count} words on {len(ok)} page(s))"
        return StatusReport(SiteStatus.EMPTY, reason, *counts)
    return StatusReport(SiteStatus.OPERATING, None, *counts)
