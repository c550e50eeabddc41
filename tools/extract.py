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

from bs4.dammit import EncodingDetector, UnicodeDammit
from lxml import etree
from lxml.etree import _Element
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
_URL_NOISE = re.compile(r"[\t\n\r]")
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
    root = _parse(markup)
    if root is None:  # nothing the parser could make a document of
        return ExtractedPage(base_url=url)
    base_url = _base_url(root, url)
    meta = _meta(root)
    page = ExtractedPage(
        title=_title(root),
        meta=meta,
        lang=_lang(root) or meta.get("content-language") or meta.get("og:locale"),
        base_url=base_url,
        links=_links(root, base_url),
    )
    visible, hidden, alts = _TextSink(), _TextSink(), _AltSink()
    _walk(root, visible, hidden, alts)
    page.text, page.hidden_text, page.image_alts = visible.render(), hidden.render(), alts.alts
    return page


# -- parsing ---------------------------------------------------------------------------------
#
# libxml2's HTML parser (through lxml) builds the tree in C; the element API reads it. This
# is the parser BeautifulSoup's "lxml" builder drives, fed the same way (the whole markup,
# then a UTF-8 retry if lxml refuses the string), so the tree is the same, at a fraction of
# the cost of building BeautifulSoup's Python objects for every node.


def _parse(markup: str) -> _Element | None:
    if markup.startswith("\N{BYTE ORDER MARK}"):
        markup = markup[1:]  # lxml mishandles a leading BOM in a string (lxml bug 1948551)
    try:
        return _feed(markup)
    except (UnicodeDecodeError, LookupError, etree.ParserError):
        return _feed(markup.encode("utf8"), encoding="utf8")


def _feed(markup: str | bytes, encoding: str | None = None) -> _Element | None:
    parser = etree.HTMLParser(recover=True, no_network=True, huge_tree=True, encoding=encoding)
    parser.feed(markup)
    try:
        root = parser.close()
    except etree.XMLSyntaxError:  # an empty document: no root element
        return None
    if any(error.type == _TOO_DEEP for error in parser.feed_error_log):
        return _feed_events(markup, encoding)
    return root


# libxml2 stops building its tree 2,048 elements deep (even with huge_tree), dropping the
# rest of the page: an easy way to hide text from a reviewer. Its parse events go on, so
# such a page is built from them instead (the events BeautifulSoup used to build from),
# under a document node that also keeps whatever follows a stray </html>. Slower (a
# Python call per event), and only for such pages.
_TOO_DEEP = etree.ErrorTypes.ERR_RESOURCE_LIMIT


class _Events:
    """An lxml parser target that builds the page under one document node."""

    def __init__(self) -> None:
        self._tree = etree.TreeBuilder()
        self._tree.start("document", {})

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self._tree.start(tag, attrib)

    def end(self, tag: str) -> None:
        self._tree.end(tag)

    def data(self, data: str) -> None:
        self._tree.data(data)

    def comment(self, text: str) -> None:
        self._tree.comment(text)

    def pi(self, target: str, data: str | None = None) -> None:
        self._tree.pi(target, data)

    def close(self) -> _Element:
        self._tree.end("document")
        return self._tree.close()


def _feed_events(markup: str | bytes, encoding: str | None) -> _Element:
    parser = etree.HTMLParser(
        recover=True, no_network=True, huge_tree=True, encoding=encoding, target=_Events()
    )
    parser.feed(markup)
    root: _Element = parser.close()
    return root


def _is_tag(node: _Element) -> bool:
    return isinstance(node.tag, str)  # comments, PIs and entities have a factory as tag


def _attr(tag: _Element, name: str) -> str:
    return tag.get(name) or ""


def _clean(text: str) -> str:
    return " ".join(text.split())


def _top(root: _Element) -> list[_Element]:
    """The document's top-level nodes: the root element and whatever libxml2 put beside it
    (comments, processing instructions, and elements after a stray </html>)."""
    return [*reversed(list(root.itersiblings(preceding=True))), root, *root.itersiblings()]


def _iter(root: _Element, *names: str) -> Iterator[_Element]:
    """Elements of the whole document by name, in document order."""
    for top in _top(root):
        yield from top.iter(*names)


def _first(root: _Element, name: str, with_attr: str | None = None) -> _Element | None:
    for tag in _iter(root, name):
        if with_attr is None or tag.get(with_attr) is not None:
            return tag
    return None


# Strings inside these elements are not page text, wherever they sit (BeautifulSoup's
# string containers: its get_text() leaves them out of an anchor's text).
_CONTAINERS = frozenset({"rt", "rp", "style", "script", "template"})


def _strings(tag: _Element) -> list[str]:
    """The element's text pieces in document order, as an anchor or title reads them."""
    inside = any(up.tag in _CONTAINERS for up in tag.iterancestors())  # only elements
    pieces: list[str] = []
    _collect(tag, inside, pieces)
    return pieces


def _collect(tag: _Element, inside: bool, pieces: list[str]) -> None:
    inside = inside or tag.tag in _CONTAINERS
    if tag.text and not inside:
        pieces.append(tag.text)
    for child in tag:
        if _is_tag(child):
            _collect(child, inside, pieces)
        if child.tail and not inside:
            pieces.append(child.tail)


def _title(root: _Element) -> str:
    head = _first(root, "head")
    title = next(head.iter("title"), None) if head is not None else _first(root, "title")
    return _clean("".join(_strings(title))) if title is not None else ""


def _meta(root: _Element) -> dict[str, str]:
    meta: dict[str, str] = {}
    for tag in _iter(root, "meta"):
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


def _lang(root: _Element) -> str | None:
    html = root if root.tag == "html" else _first(root, "html")
    lang = _attr(html, "lang").strip() if html is not None else ""
    return lang or None


def _base_url(root: _Element, url: str) -> str:
    base = _first(root, "base", with_attr="href")
    if base is not None:
        candidate = urljoin(url, _attr(base, "href").strip())
        if urlsplit(candidate).scheme in _LINK_SCHEMES:
            return candidate
    return url


def resolve_link(href: str, base_url: str) -> str | None:
    """An absolute, fragment-free http(s) URL for an href, or None (mailto:, #top...)."""
    # Browsers ignore tabs and newlines inside URLs and trim surrounding spaces.
    href = _URL_NOISE.sub("", href).strip()
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


def _anchor_text(tag: _Element) -> str:
    text = _clean(" ".join(_strings(tag)))
    if not text:
        image = next((img for img in tag.iter("img") if img.get("alt") is not None), None)
        text = _clean(_attr(image, "alt")) if image is not None else ""
    return text or _clean(_attr(tag, "aria-label") or _attr(tag, "title"))


def _links(root: _Element, base_url: str) -> list[Link]:
    found: dict[str, Link] = {}
    for tag in _iter(root, "a", "area"):
        href = tag.get("href")
        absolute = resolve_link(href, base_url) if href is not None else None
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


def is_hidden(tag: _Element) -> bool:
    """True when the element (and so its subtree) is not shown to a visitor."""
    if tag.get("hidden") is not None or _attr(tag, "aria-hidden").strip().lower() == "true":
        return True
    style = tag.get("style")
    return bool(style) and _style_hides(style)


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


# A walk step: a node to enter, a string (text or tail) to add, or a block's end; with
# whether it sits in hidden content and whether inside <pre>.
_NODE, _TEXT, _CLOSE = 0, 1, 2
_Step = tuple[int, "_Element | str | None", bool, bool]


def _walk(root: _Element, visible: _TextSink, hidden: _TextSink, alts: _AltSink) -> None:
    """Depth-first, iterative (deeply nested pages must not hit the recursion limit)."""
    stack: list[_Step] = [(_NODE, node, False, False) for node in reversed(_top(root))]
    while stack:
        kind, item, in_hidden, in_pre = stack.pop()
        sink = hidden if in_hidden else visible
        if kind == _CLOSE:
            sink.newline()
        elif kind == _TEXT:
            assert isinstance(item, str)
            # Outside <pre>, any run of whitespace renders as one space (line breaks included).
            sink.add(item.replace("\r", "") if in_pre else _WS.sub(" ", item))
        else:
            assert item is not None and not isinstance(item, str)
            stack.extend(_enter(item, in_hidden, in_pre, sink, hidden, alts))


def _enter(
    node: _Element,
    in_hidden: bool,
    in_pre: bool,
    sink: _TextSink,
    hidden: _TextSink,
    alts: _AltSink,
) -> list[_Step]:
    """Handle a node; return the steps for its content and its tail (reversed, for the stack)."""
    steps: list[_Step] = []
    if node.tail:  # text after the node is its parent's: the parent's hidden and <pre> state
        steps.append((_TEXT, node.tail, in_hidden, in_pre))
    if not _is_tag(node):
        if node.tag is etree.Comment:
            hidden.newline()
            hidden.add(node.text or "")
            hidden.newline()
        return steps  # processing instructions and entities are markup, not page text
    name = str(node.tag).lower()
    if name in _DROPPED:
        return steps
    if not in_hidden and is_hidden(node):
        in_hidden, sink = True, hidden
    if name == "br":
        sink.newline()
        return steps
    if name == "img":
        alt = _clean(_attr(node, "alt"))
        if in_hidden:
            sink.add(f" {alt} ")
        else:
            alts.add(alt)
        return steps
    in_pre = in_pre or name == "pre"
    if name in _BLOCKS:
        sink.newline()
        steps.append((_CLOSE, None, in_hidden, in_pre))
    steps.extend((_NODE, child, in_hidden, in_pre) for child in reversed(node))
    if node.text:
        steps.append((_TEXT, node.text, in_hidden, in_pre))
    return steps
