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
from collections.abc import Iterator, Sequence

from agent.offline.snippets import Snippet
from agent.offline.textmatch import PhraseIndex, phrase_pattern

# Distinct markers a site needs to count as editorial.
MIN_MARKERS = 3
# Distinct positive indicators a rule needs on an editorial site.
EDITORIAL_MIN_INDICATORS = 2

# One entry per word: phrase patterns match plurals, and a phrase holding another marker
# ("latest news") would count one mention twice.
EDITORIAL_MARKERS = (
    # en
    "news", "headline", "article", "editorial", "editor", "opinion", "columnist", "column",
    "reporter", "journalist", "newsletter", "podcast", "read more", "comments", "published",
    "updated", "magazine", "featured", "stories", "analysis", "interview", "live blog",
    # es
    "noticias", "titulares", "articulo", "periodista", "revista", "leer mas",
    # de
    "nachrichten", "schlagzeilen", "artikel", "redaktion", "kommentar", "meinung",
    "zeitung", "weiterlesen",
    # fr
    "actualite", "a la une", "journaliste", "chronique", "lire la suite", "redaction",
)  # fmt: skip
COMMERCE_MARKERS = (
    "add to cart", "add to basket", "add to bag", "checkout", "buy now", "shopping cart",
    "your cart", "order now", "in stock", "out of stock",
    "anadir al carrito", "comprar ahora", "carrito",
    "in den warenkorb", "warenkorb", "jetzt kaufen", "zur kasse",
    "ajouter au panier", "acheter maintenant", "panier", "commander",
)  # fmt: skip


class _Phrases:
    """Phrases compiled once and looked up through their words, like the indicators."""

    def __init__(self, phrases: Sequence[str]) -> None:
        self.patterns = {p: re.compile(phrase_pattern(p)) for p in dict.fromkeys(phrases)}
        self.index: PhraseIndex[str] = PhraseIndex()
        for phrase in self.patterns:
            self.index.add(phrase, phrase)

    def found(self, snippet: Snippet) -> Iterator[str]:
        """The phrases that stand in the snippet."""
        candidates = self.index.candidates(snippet.keys)
        return (p for p in candidates if self.patterns[p].search(snippet.folded))


_MARKERS = _Phrases(EDITORIAL_MARKERS)
_COMMERCE = _Phrases(COMMERCE_MARKERS)


def editorial_markers(snippets: Sequence[Snippet]) -> frozenset[str]:
    """The distinct publishing markers the site's snippets show."""
    return frozenset(marker for snippet in snippets for marker in _MARKERS.found(snippet))


def sells(snippets: Sequence[Snippet]) -> bool:
    """A price line, a cart or a checkout anywhere on the site."""
    return any(s.kind == "product" or next(_COMMERCE.found(s), None) for s in snippets)


def editorial_site(snippets: Sequence[Snippet]) -> bool:
    """Several publishing markers and nothing sold: a publisher, not a shop."""
    return len(editorial_markers(snippets)) >= MIN_MARKERS and not sells(snippets)
