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
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from agent.offline.textmatch import canonical_words, fold_for_match
from merchant_review.pages import PageSnapshot

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


@dataclass
class _Shared:
    """The last site_snippets result of a review that shares them: its ok pages and snippets."""

    pages: tuple[PageSnapshot, ...] = ()
    snippets: tuple[Snippet, ...] | None = None


# An LLM review cuts the same pages into snippets twice: for the model's excerpts
# (agent.llm_evidence) and in the evidence floor's offline engine (agent.evidence_floor).
# A review that calls share_site_snippets() computes them once, in its own task's context.
_SHARED: ContextVar[_Shared | None] = ContextVar("shared_site_snippets", default=None)


def share_site_snippets() -> None:
    """From now on in this context (one review), site_snippets of the very same ok pages
    (the same page objects, in the same order) returns the snippets computed last."""
    _SHARED.set(_Shared())


def stop_sharing_site_snippets() -> None:
    """Drop the shared snippets (and the pages they hold) of this context."""
    _SHARED.set(None)


def site_snippets(pages: list[PageSnapshot]) -> list[Snippet]:
    """Snippets of every ok page; lines repeated across pages are marked boilerplate."""
    ok = [page for page in pages if page.ok]
    shared = _SHARED.get()
    if shared is None:
        return _site_snippets(ok)
    if (
        shared.snippets is None
        or len(shared.pages) != len(ok)
        or any(old is not new for old, new in zip(shared.pages, ok, strict=True))
    ):
        shared.pages, shared.snippets = tuple(ok), tuple(_site_snippets(ok))
    return list(shared.snippets)


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
