"""Property-based tests (hypothesis) of what an attacker's bytes and a model's output reach.

- HTML extraction: any bytes or markup parse without an exception; hidden text never
  becomes visible (citable) text.
- Citation verification: never raises; never accepts a quote absent from the page's
  visible text, hidden text and other pages included.
- Verdict parsing: any string or JSON value gives a verdict or a VerdictError, nothing else.
"""

from __future__ import annotations

import html
import json
import string
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.llm_schema import SubmittedVerdict, VerdictError, parse_verdict
from agent.verify import citation_problem, page_index, verify_findings
from merchant_review.pages import PageSnapshot, fold
from merchant_review.policy import PolicyCorpus, PolicyRule
from merchant_review.taxonomy import Category
from merchant_review.verdict import Finding, PageCitation
from tools.extract import extract_page

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
URL = "https://shop.test/page"
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)
QUOTE = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=300)
_HANGUL_JAMO = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xFFA0, 0xFFDC))  # compose under NFKC


def _stands_alone(char: str) -> bool:
    """Neither a combining mark nor a jamo: no excerpt boundary can split a composition."""
    code = ord(char)
    return not any(low <= code <= high for low, high in _HANGUL_JAMO)


# Text in which any excerpt is a whole run of characters as verification sees them.
WHOLE = st.text(
    st.characters(exclude_categories=("Cs", "Mn", "Mc", "Me")).filter(_stands_alone),
    min_size=1,
    max_size=300,
)
VISIBLE_ALPHABET = string.ascii_lowercase + " .,"  # hidden strings use capitals only
HIDDEN = st.text(alphabet="QXZJKW", min_size=6, max_size=40)

TAGS = ["p", "div", "span", "a", "b", "table", "td", "li", "script", "style", "title", "img"]
ATTRS = ['style="display:none"', "hidden", 'aria-hidden="true"', 'href="/x"', 'alt="a"', ""]


@st.composite
def markup(draw: st.DrawFn) -> str:
    """Tag soup: random tags, attributes, comments, entities and text, often unbalanced."""
    parts = draw(
        st.lists(
            st.one_of(
                st.builds(lambda t, a: f"<{t} {a}>", st.sampled_from(TAGS), st.sampled_from(ATTRS)),
                st.builds(lambda t: f"</{t}>", st.sampled_from(TAGS)),
                st.builds(lambda c: f"<!--{c}-->", TEXT),
                st.sampled_from(["&amp;", "&#0;", "&#x110000;", "&bogus;", "<", ">", "<!", "]]>"]),
                TEXT,
            ),
            max_size=40,
        )
    )
    return "".join(parts)


@FUZZ
@given(st.binary(max_size=4_000))
def test_extraction_survives_any_bytes(data: bytes) -> None:
    page = extract_page(data, URL)
    assert isinstance(page.text, str) and isinstance(page.hidden_text, str)
    assert all(link.url.startswith(("http://", "https://")) for link in page.links)


@FUZZ
@given(markup(), st.sampled_from([None, "utf-8", "latin-1", "x-unknown", "utf-16"]))
def test_extraction_survives_any_markup(document: str, charset: str | None) -> None:
    page = extract_page(document.encode("utf-8", "surrogatepass"), URL, http_charset=charset)
    assert isinstance(page.text, str)


@FUZZ
@given(st.text(alphabet=VISIBLE_ALPHABET, max_size=200), HIDDEN, HIDDEN, HIDDEN)
def test_hidden_text_never_becomes_citable(
    visible: str, hidden: str, comment: str, aria: str
) -> None:
    document = (
        f"<html><body><p>{html.escape(visible)}</p>"
        f'<div style="display:none">{html.escape(hidden)}</div><!-- {comment} -->'
        f'<span aria-hidden="true">{html.escape(aria)}</span></body></html>'
    )
    seen = extract_page(document, URL)
    page = PageSnapshot(
        url=URL, requested_url=URL, status=200, title=seen.title, text=seen.text,
        hidden_text=seen.hidden_text, image_alts=seen.image_alts, meta=seen.meta,
    )  # fmt: skip
    index = page_index([page])
    for secret in (hidden, comment, aria):
        assert citation_problem(PageCitation(url=URL, quote=secret), index, None) is not None


@FUZZ
@given(TEXT, TEXT, QUOTE)
def test_verification_accepts_exactly_the_quotes_on_the_page(
    text: str, other: str, quote: str
) -> None:
    pages = [
        PageSnapshot(url=URL, requested_url=URL, status=200, text=text),
        PageSnapshot(url="https://shop.test/other", requested_url="https://shop.test/other",
                     status=200, text=other),
        PageSnapshot(url="https://shop.test/broken", requested_url="https://shop.test/broken",
                     status=500, text=quote, error="HTTP 500"),
    ]  # fmt: skip
    problem = citation_problem(PageCitation(url=URL, quote=quote), page_index(pages), None)
    on_page = bool(fold(quote)) and fold(quote) in fold(text)
    assert (problem is None) is on_page


@FUZZ
@given(WHOLE, st.data())
def test_a_verbatim_excerpt_is_always_accepted(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text) - 1))
    quote = text[start : data.draw(st.integers(start + 1, len(text)))]
    pages = [PageSnapshot(url=URL, requested_url=URL, status=200, text=text)]
    problem = citation_problem(PageCitation(url=URL, quote=quote), page_index(pages), None)
    assert (problem is None) is bool(fold(quote))  # all-whitespace quotes prove nothing


@FUZZ
@given(
    st.lists(st.tuples(TEXT, st.sampled_from([URL, "https://elsewhere.test/"])), max_size=6), TEXT
)
def test_verified_findings_only_keep_quotes_on_the_page(
    citations: list[tuple[str, str]], text: str
) -> None:
    rule = PolicyRule(id="weapons.guns", category=Category.WEAPONS, tier=Category.WEAPONS.tier,
                      title="Guns", description="Firearms.")  # fmt: skip
    corpus = PolicyCorpus([rule], version="fuzz", source=Path("fuzz"))
    findings = [
        Finding(rule_id=rule.id, category=Category.WEAPONS, rationale="r", confidence=0.9,
                citations=[PageCitation(url=url, quote=quote or "q")])
        for quote, url in citations
    ]  # fmt: skip
    pages = [PageSnapshot(url=URL, requested_url=URL, status=200, text=text)]
    verified, rejected = verify_findings(findings, pages, None, corpus)
    assert len(verified) + len(rejected) == len(findings)
    for finding in verified:
        for citation in finding.citations:
            assert isinstance(citation, PageCitation)
            assert fold(citation.quote) in fold(text)


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)
VALID: dict[str, Any] = {
    "findings": [
        {
            "rule_id": "weapons.guns", "category": "weapons", "rationale": "r", "confidence": 0.5,
            "citations": [{"kind": "page", "url": URL, "quote": "guns"}],
        }
    ],
    "site_status": "operating", "business_summary": "s", "confidence": 0.5,
}  # fmt: skip


def parse_outcome(raw: str) -> SubmittedVerdict | None:
    try:
        return parse_verdict(raw)
    except VerdictError:
        return None


@FUZZ
@given(TEXT)
def test_verdict_parsing_of_any_string(raw: str) -> None:
    parse_outcome(raw)


@FUZZ
@given(JSON)
def test_verdict_parsing_of_any_json(value: Any) -> None:
    parse_outcome(json.dumps(value))


@FUZZ
@given(st.sampled_from(sorted(VALID)), JSON)
def test_verdict_parsing_of_a_verdict_with_one_field_replaced(key: str, value: Any) -> None:
    verdict = parse_outcome(json.dumps({**VALID, key: value}))
    if verdict is not None:  # accepted only within the schema's bounds
        assert 0.0 <= verdict.confidence <= 1.0
        assert all(0.0 <= f.confidence <= 1.0 and f.citations for f in verdict.findings)


def test_an_excerpt_that_splits_a_combining_sequence_is_refused() -> None:
    """The safe direction: "e" is not on a page that shows "é" (e + combining acute)."""
    pages = [PageSnapshot(url=URL, requested_url=URL, status=200, text="caf\u0065\u0301")]
    assert citation_problem(PageCitation(url=URL, quote="cafe"), page_index(pages), None)
    assert citation_problem(PageCitation(url=URL, quote="café"), page_index(pages), None) is None


def test_the_unchanged_verdict_parses() -> None:
    assert parse_outcome(json.dumps(VALID)) is not None
    assert parse_outcome("```json\n" + json.dumps(VALID) + "\n```") is not None
