"""HTML → what a reviewer sees: title, visible text, hidden text, meta, image alts, links.

Visible text keeps the page's block structure (one block a line) so a product card or an
FAQ entry stays readable. Text a visitor is not shown (hidden attribute, aria-hidden,
inline display:none and the like, HTML comments) goes to `hidden_text`, never into `text`:
hidden keyword stuffing is a signal for the reviewer, not something the merchant "says".
Class-based hiding via stylesheets is not evaluated (no CSS engine).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from urllib.parse import urldefrag, urljoin, urlsplit

from bs4 import BeautifulSoup, Comment, Tag
from bs4.dammit import EncodingDetector, UnicodeDammit
from bs4.element import NavigableString, PageElement, PreformattedString
from pydantic import BaseModel, Field

from merchant_review.pages import Link

# Elements whose content a visitor never reads as page text.
_DROPPED = frozenset(
    {"script", "style", "noscript", "template", "svg", "iframe", "object", "embed", "canvas"}
    | {"audio", "video", "head", "title", "meta", "link", "input"}
)
_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "caption", "dd", "details"}
    | {"dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "legend", "li", "main", "nav"}
    | {"ol", "option", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot"}
    | {"th", "thead", "tr", "ul"}
)
_LINK_SCHEMES = frozenset({"http", "https"})
_MAX_META = 64
_MAX_META_VALUE = 2_000
_WS = re.compile(r"\s+")
_ZERO = re.compile(r"^-?0*(?:\.0*)?(?:[a-z%]+)?$")
_FAR_OFF = re.compile(r"^-\d{4,}(?:\.\d+)?px$")  # text-indent:-9999px and similar tricks


class ExtractedPage(BaseModel):
    """What one HTML page shows a reviewer, and what it hides."""

    title: str = ""
    text: str = ""
    hidden_text: str = ""
    meta: dict[str, str] = Field(default_factory=dict)
    image_alts: list[str] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    lang: str | None = None
    base_url: str = ""


def decode_html(data: bytes, http_charset: str | None = None) -> str:
    """Decode HTML bytes: BOM, then the HTTP charset, then <meta charset>, then detection.

    A declared encoding is trusted and decoded leniently, because a body cut at the byte
    limit may end inside a multi-byte character.
    """
    data, bom_encoding = EncodingDetector.strip_byte_order_mark(data)
    meta_encoding = EncodingDetector.find_declared_encoding(data, is_html=True)
    for declared in (bom_encoding, http_charset, meta_encoding):
        if declared and _known_codec(declared):
            return data.decode(declared, errors="replace")
    try:
        return data.decode("utf-8")  # valid UTF-8 is almost never an accident
    except UnicodeDecodeError:
        pass
    guessed = UnicodeDammit(data, is_html=True).unicode_markup
    return guessed if guessed is not None else data.decode("utf-8", errors="replace")


def _known_codec(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def extract_page(html: str | bytes, url: str, *, http_charset: str | None = None) -> ExtractedPage:
    """Parse one page; links are absolute (against <base href> and `url`), fragment-free.

    Links include those inside hidden content: a page the merchant hides from visitors
    but still serves is worth a reviewer's look.
    """
    markup = decode_html(html, http_charset) if isinstance(html, bytes) else html
    soup = BeautifulSoup(markup, "lxml")
    base_url = _base_url(soup, url)
    meta = _meta(soup)
    page = ExtractedPage(
        title=_title(soup),
        meta=meta,
        lang=_lang(soup) or meta.get("content-language") or meta.get("og:locale"),
        base_url=base_url,
        links=_links(soup, base_url),
    )
    visible, hidden, alts = _TextSink(), _TextSink(), _AltSink()
    _walk(soup, visible, hidden, alts)
    page.text, page.hidden_text, page.image_alts = visible.render(), hidden.render(), alts.alts
    return page


def _attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    if value is None:
        return ""
    return " ".join(value) if isinstance(value, list) else str(value)


def _clean(text: str) -> str:
    return " ".join(text.split())


def _title(soup: BeautifulSoup) -> str:
    scope = soup.head if soup.head is not None else soup
    title = scope.find("title")
    return _clean(title.get_text()) if isinstance(title, Tag) else ""


def _meta(soup: BeautifulSoup) -> dict[str, str]:
    meta: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        key = next(
            (_attr(tag, a) for a in ("name", "property", "itemprop", "http-equiv") if tag.get(a)),
            "",
        ).lower()
        content = _clean(_attr(tag, "content"))[:_MAX_META_VALUE]
        if key and content and key not in meta:
            meta[key] = content
        if len(meta) >= _MAX_META:  # untrusted input: bound what is kept
            break
    return meta


def _lang(soup: BeautifulSoup) -> str | None:
    html = soup.find("html")
    lang = _attr(html, "lang").strip() if isinstance(html, Tag) else ""
    return lang or None


def _base_url(soup: BeautifulSoup, url: str) -> str:
    base = soup.find("base", href=True)
    if isinstance(base, Tag):
        candidate = urljoin(url, _attr(base, "href").strip())
        if urlsplit(candidate).scheme in _LINK_SCHEMES:
            return candidate
    return url


def resolve_link(href: str, base_url: str) -> str | None:
    """An absolute, fragment-free http(s) URL for an href, or None (mailto:, #top...)."""
    # Browsers ignore tabs and newlines inside URLs and trim surrounding spaces.
    href = re.sub(r"[\t\n\r]", "", href).strip()
    if not href or href.startswith("#"):
        return None
    try:
        absolute, _fragment = urldefrag(urljoin(base_url, href))
        parts = urlsplit(absolute)
    except ValueError:  # e.g. a malformed IPv6 literal
        return None
    if parts.scheme not in _LINK_SCHEMES or not parts.hostname:
        return None
    return absolute


def _anchor_text(tag: Tag) -> str:
    text = _clean(tag.get_text(" "))
    if not text:
        image = tag.find("img", alt=True)
        text = _clean(_attr(image, "alt")) if isinstance(image, Tag) else ""
    return text or _clean(_attr(tag, "aria-label") or _attr(tag, "title"))


def _links(soup: BeautifulSoup, base_url: str) -> list[Link]:
    found: dict[str, Link] = {}
    for tag in soup.find_all(["a", "area"], href=True):
        absolute = resolve_link(_attr(tag, "href"), base_url)
        if absolute is None:
            continue
        text = _anchor_text(tag)
        if absolute not in found:
            found[absolute] = Link(url=absolute, text=text)
        elif text and not found[absolute].text:
            found[absolute].text = text
    return list(found.values())


def _declarations(style: str) -> Iterator[tuple[str, str]]:
    for declaration in style.split(";"):
        name, _, value = declaration.partition(":")
        value = value.lower().replace("!important", "").strip()
        yield name.strip().lower(), "".join(value.split())


def _style_hides(style: str) -> bool:
    for name, value in _declarations(style):
        if name == "display" and value == "none":
            return True
        if name == "visibility" and value in {"hidden", "collapse"}:
            return True
        if name in {"font-size", "opacity"} and _ZERO.match(value):
            return True
        if name in {"text-indent", "left", "top"} and _FAR_OFF.match(value):
            return True
    return False


def is_hidden(tag: Tag) -> bool:
    """True when the element (and so its subtree) is not shown to a visitor."""
    if tag.has_attr("hidden") or _attr(tag, "aria-hidden").strip().lower() == "true":
        return True
    return _style_hides(_attr(tag, "style"))


class _TextSink:
    """Collects text pieces and line breaks; renders one non-empty line per block."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def add(self, text: str) -> None:
        self._parts.append(text)

    def newline(self) -> None:
        self._parts.append("\n")

    def render(self) -> str:
        lines = (_clean(line) for line in "".join(self._parts).split("\n"))
        return "\n".join(line for line in lines if line)


class _AltSink:
    def __init__(self) -> None:
        self.alts: list[str] = []

    def add(self, alt: str) -> None:
        if alt and alt not in self.alts:
            self.alts.append(alt)


# A walk step: the node, whether it sits in hidden content, whether inside <pre>, and
# whether this is the block's closing marker rather than the node itself.
_Step = tuple[PageElement, bool, bool, bool]


def _walk(root: Tag, visible: _TextSink, hidden: _TextSink, alts: _AltSink) -> None:
    """Depth-first, iterative (deeply nested pages must not hit the recursion limit)."""
    stack: list[_Step] = [(root, False, False, False)]
    while stack:
        node, in_hidden, in_pre, closing = stack.pop()
        sink = hidden if in_hidden else visible
        if closing:
            sink.newline()
        elif isinstance(node, Comment):
            hidden.newline()
            hidden.add(str(node))
            hidden.newline()
        elif isinstance(node, NavigableString):
            _add_string(node, sink, in_pre)
        elif isinstance(node, Tag):
            stack.extend(_enter(node, in_hidden, in_pre, sink, hidden, alts))


def _add_string(node: NavigableString, sink: _TextSink, in_pre: bool) -> None:
    # CDATA, doctype and processing instructions are markup, not page text.
    if isinstance(node, PreformattedString):
        return
    # Outside <pre>, any run of whitespace renders as one space (line breaks included).
    sink.add(str(node).replace("\r", "") if in_pre else _WS.sub(" ", str(node)))


def _enter(
    tag: Tag, in_hidden: bool, in_pre: bool, sink: _TextSink, hidden: _TextSink, alts: _AltSink
) -> list[_Step]:
    """Handle an element; return the steps for its children (reversed, for the stack)."""
    name = tag.name.lower()
    if name in _DROPPED:
        return []
    if not in_hidden and is_hidden(tag):
        in_hidden, sink = True, hidden
    if name == "br":
        sink.newline()
        return []
    if name == "img":
        alt = _clean(_attr(tag, "alt"))
        if in_hidden:
            sink.add(f" {alt} ")
        else:
            alts.add(alt)
        return []
    in_pre = in_pre or name == "pre"
    steps: list[_Step] = []
    if name in _BLOCKS:
        sink.newline()
        steps.append((tag, in_hidden, in_pre, True))
    steps.extend((child, in_hidden, in_pre, False) for child in reversed(tag.contents))
    return steps
