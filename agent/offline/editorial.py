"""Editorial sites: a publisher's pages name topics they do not sell.

A news, sports or magazine site lists sections and headlines ("sports betting", "late
news vaping") that are topics, not the merchant's line of business. A site is editorial
when its pages carry several distinct publishing markers (news, headlines, articles,
columnists...) and nothing that sells (no price line, no cart or checkout). On such a
site one indicator alone is a topic mention; a rule needs two distinct indicators to make
a finding, as a shop of the topic shows (a betting-tips site names odds, tips, bookmakers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.offline.snippets import Snippet
from agent.offline.textmatch import any_of, phrase_pattern

# Distinct markers a site needs to count as editorial.
MIN_MARKERS = 3
# Distinct positive indicators a rule needs on an editorial site.
EDITORIAL_MIN_INDICATORS = 2

EDITORIAL_MARKERS = (
    # en
    "news", "latest news", "breaking news", "headlines", "headline", "article", "articles",
    "editorial", "editor", "opinion", "columnist", "column", "reporter", "journalist",
    "newsletter", "podcast", "read more", "comments", "published", "updated", "magazine",
    "featured", "stories", "analysis", "interview", "live blog", "sports news",
    # es
    "noticias", "titulares", "articulo", "articulos", "periodista", "opinion", "revista",
    "ultimas noticias", "leer mas",
    # de
    "nachrichten", "schlagzeilen", "artikel", "redaktion", "kommentar", "meinung",
    "zeitung", "weiterlesen",
    # fr
    "actualites", "actualite", "a la une", "journaliste", "chronique", "lire la suite",
    "redaction",
)  # fmt: skip
COMMERCE_MARKERS = (
    "add to cart", "add to basket", "add to bag", "checkout", "buy now", "shopping cart",
    "your cart", "order now", "in stock", "out of stock",
    "anadir al carrito", "comprar ahora", "carrito",
    "in den warenkorb", "warenkorb", "jetzt kaufen", "zur kasse",
    "ajouter au panier", "acheter maintenant", "panier", "commander",
)  # fmt: skip
_MARKER = re.compile(
    any_of(f"(?P<m{i}>{phrase_pattern(m)})" for i, m in enumerate(EDITORIAL_MARKERS))
)
_COMMERCE = re.compile(any_of(phrase_pattern(m) for m in COMMERCE_MARKERS))


def editorial_markers(snippets: Sequence[Snippet]) -> frozenset[str]:
    """The distinct publishing markers the site's snippets show."""
    found: set[str] = set()
    for snippet in snippets:
        for match in _MARKER.finditer(snippet.folded):
            found.update(name for name, value in match.groupdict().items() if value)
    return frozenset(EDITORIAL_MARKERS[int(name[1:])] for name in found)


def sells(snippets: Sequence[Snippet]) -> bool:
    """A price line, a cart or a checkout anywhere on the site."""
    return any(s.kind == "product" or _COMMERCE.search(s.folded) for s in snippets)


def editorial_site(snippets: Sequence[Snippet]) -> bool:
    """Several publishing markers and nothing sold: a publisher, not a shop."""
    return len(editorial_markers(snippets)) >= MIN_MARKERS and not sells(snippets)
