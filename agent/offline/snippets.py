"""Evidence units: a site's citable text cut into short snippets with page context.

A snippet is a verbatim piece of one page's `citable_text()` (title, visible text, image
alt texts, meta description; never hidden text): one block line of the page, or, for a
long block, a run of whole sentences of at most MAX_CHARS. It keeps the page URL and a
guess at what kind of text it is (title, heading, product, faq, terms, nav...), which
weighs how much it proves.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from agent.offline.textmatch import canonical_words, fold_for_match
from merchant_review.pages import PageSnapshot

if TYPE_CHECKING:  # indicators.py imports this module
    from agent.offline.indicators import CompiledCorpus, Met

MAX_CHARS = 300
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s+")
# A number before a currency sign needs no word boundary after the sign ("1 549,99 €" at a
# line's end, "12€ each"); a currency code does ("12 eur", not "12 eurostars").
_PRICE = re.compile(
    r"(?:[$€£¥]\s?\d)|(?:\d[\d.,]*\s?(?:[€£$¥]|(?:eur|usd|gbp|chf)\b))|(?:\bprice\b)",
    re.IGNORECASE,
)
_HAS_WORD = re.compile(r"\w\w")
_NAV_WORDS = frozenset(
    {"home", "shop", "store", "about", "contact", "faq", "blog", "terms", "privacy", "cart"}
    | {"basket", "login", "account", "inicio", "tienda", "contacto", "nosotros", "startseite"}
    | {"kontakt", "impressum", "warenkorb", "accueil", "boutique", "panier", "mentions"}
)
_PATH_KINDS = (
    ("terms", "terms|conditions|legal|privacy|agb|cgv|terminos|datenschutz|impressum|mentions"),
    ("faq", "faq|faqs|help|questions|preguntas|fragen|aide"),
)
# A path kind is a whole word of the path: "/terms.html", "/legal/", not "/cookies-and-cream".
_PATH_PATTERNS = tuple(
    (kind, re.compile(rf"(?<![a-z])(?:{words})(?![a-z])")) for kind, words in _PATH_KINDS
)


@dataclass(frozen=True, slots=True)
class Snippet:
    """One piece of evidence: verbatim text from a page, with its context."""

    url: str
    text: str  # verbatim, as it stands in the page's citable_text()
    kind: str  # title | heading | product | faq | terms | nav | boilerplate | image | meta | text
    page: int  # position of the page among the site's ok pages
    folded: str = field(repr=False)  # fold_for_match(text): what indicators are matched on
    tokens: tuple[str, ...] = field(repr=False)  # its canonical words, in order
    keys: frozenset[str] = field(repr=False)  # the same words as a set, for indexed lookups


def split_block(block: str, limit: int = MAX_CHARS) -> Iterator[str]:
    """Cut one text block into verbatim pieces of at most `limit` chars at sentence ends."""
    block = block.strip()
    if len(block) <= limit:
        yield block
        return
    start = 0
    ends = [m.end() for m in _SENTENCE_END.finditer(block)] + [len(block)]
    while start < len(block):
        last = bisect_right(ends, start + limit) - 1  # the last sentence end that fits
        end = ends[last] if last >= 0 and ends[last] > start else _word_cut(block, start, limit)
        piece = block[start:end].strip()
        if piece:
            yield piece
        start = end


def _word_cut(block: str, start: int, limit: int) -> int:
    """Where to cut a sentence longer than `limit`: the last space before the limit."""
    space = block.rfind(" ", start + 1, start + limit)
    if space > start:
        return space
    end = start + limit
    # No space at all: never separate a letter from its combining accent, or the piece
    # would not stand verbatim in the (NFKC-normalised) page text.
    while end > start + 1 and unicodedata.combining(block[end]):
        end -= 1
    return end


def _path_kind(url: str) -> str | None:
    path = urlsplit(url).path.lower()
    return next((kind for kind, pattern in _PATH_PATTERNS if pattern.search(path)), None)


def _line_kind(line: str, path_kind: str | None) -> str:
    """A guess at what a text line is, from its shape and the page it is on."""
    line_words = line.split()
    if _PRICE.search(line):
        return "product"
    if path_kind is not None:
        return path_kind
    if line.endswith("?"):
        return "faq"
    if len(line_words) <= 12 and sum(w.lower() in _NAV_WORDS for w in line_words) >= 2:
        return "nav"
    if len(line_words) <= 8 and not line.endswith((".", "!", ":", ";")):
        return "heading"
    return "text"


def page_snippets(page: PageSnapshot, index: int) -> list[Snippet]:
    """The snippets of one page, in the order of its citable text."""
    path_kind = _path_kind(page.url)
    parts: list[tuple[str, str]] = [(page.title, "title")]
    parts += [(line, "") for line in page.text.split("\n")]
    parts += [(alt, "image") for alt in page.image_alts]
    parts.append((page.meta.get("description", ""), "meta"))
    snippets = []
    for text, kind in parts:
        for piece in split_block(text):
            if not _HAS_WORD.search(piece):
                continue
            snippets.append(
                make_snippet(page.url, piece, kind or _line_kind(piece, path_kind), index)
            )
    return snippets


def make_snippet(url: str, text: str, kind: str, page: int) -> Snippet:
    """A snippet with its matching forms (folded text, canonical words) computed once."""
    folded = fold_for_match(text)
    tokens = canonical_words(folded)
    return Snippet(url, text, kind, page, folded, tokens, frozenset(tokens))


def site_snippets(pages: list[PageSnapshot]) -> list[Snippet]:
    """Snippets of every ok page; lines repeated across pages are marked boilerplate."""
    return _site_snippets([page for page in pages if page.ok])


class SiteSnippets(tuple[Snippet, ...]):
    """A site's snippets (site_snippets), immutable so that the readers of one review can
    share them, with the indicator matches found in them (agent/offline/indicators.py,
    one entry per compiled corpus): derived from the snippets alone, they are found once
    for every reader too. A tuple, so that indexing them costs what a tuple's does."""

    indicator_matches: dict[CompiledCorpus, Sequence[Mapping[int, Met]]]

    def __new__(cls, snippets: Iterable[Snippet] = ()) -> Self:
        site = super().__new__(cls, snippets)
        site.indicator_matches = {}
        return site


class SnippetMemo:
    """The snippets of one review's pages, cut once for all that read them.

    An LLM review reads the same pages twice: the model's excerpts (agent/llm_evidence.py)
    and, after the model's verdict, the evidence floor's offline engine
    (agent/evidence_floor.py). Each asks its AssessmentRequest's memo, which cuts the pages
    into snippets (and matches the indicators in them) once. The pages list is the
    review's own, to which the agent's fetches append: the memo cuts anew whenever the ok
    pages are no longer the very ones (the same objects, in the same order) it cut last.
    """

    def __init__(self) -> None:
        self._pages: tuple[PageSnapshot, ...] = ()
        self._snippets: SiteSnippets | None = None

    def of(self, pages: Sequence[PageSnapshot]) -> SiteSnippets:
        """site_snippets(pages), cut once per state of the pages."""
        ok = tuple(page for page in pages if page.ok)
        if self._snippets is None or not same_pages(self._pages, ok):
            self._pages, self._snippets = ok, SiteSnippets(_site_snippets(list(ok)))
        return self._snippets


def same_pages(old: Sequence[PageSnapshot], new: Sequence[PageSnapshot]) -> bool:
    """The very same page objects, in the same order (pages are not changed in place
    once a review has them: a fetch appends a new one)."""
    return len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True))


def _site_snippets(ok: list[PageSnapshot]) -> list[Snippet]:
    per_page = [page_snippets(page, index) for index, page in enumerate(ok)]
    if len(ok) < 2:
        return [snippet for snippets in per_page for snippet in snippets]
    seen_on = Counter(text for snippets in per_page for text in {s.text for s in snippets})
    threshold = max(2, (len(ok) + 1) // 2)
    return [
        _as_boilerplate(snippet) if _repeated(snippet, seen_on, threshold) else snippet
        for snippets in per_page
        for snippet in snippets
    ]


def _repeated(snippet: Snippet, seen_on: Counter[str], threshold: int) -> bool:
    # A title repeated on every page is the site's name: still a title, not boilerplate.
    return snippet.kind not in {"title", "nav"} and seen_on[snippet.text] >= threshold


def _as_boilerplate(snippet: Snippet) -> Snippet:
    return replace(snippet, kind="boilerplate")
