"""Excerpt ranking of the LLM agent: product cards, rated snippets, repeated names; and
the compact verdict schema sent to the model."""

from __future__ import annotations

import json

from agent.llm_evidence import Rater, rank_snippets
from agent.llm_schema import SubmittedVerdict, verdict_schema
from agent.offline.snippets import Snippet, make_snippet

HOME = "https://shop.example/"
PRODUCT = "https://shop.example/shop/box-mod.html"


def _site() -> list[Snippet]:
    lines = [
        (HOME, "Shop | Example", "title", 0),
        (HOME, "Box mod 200 W", "heading", 0),
        (HOME, "A$75.99", "product", 0),
        (HOME, "Pod kit", "heading", 0),
        (HOME, "A$52.00", "product", 0),
        (HOME, "Buy now", "boilerplate", 0),
        (PRODUCT, "Box mod 200 W | Example", "title", 1),
        (PRODUCT, "Box mod 200 W", "heading", 1),
        (PRODUCT, "A$75.99", "product", 1),
        (PRODUCT, "In stock", "heading", 1),
        (PRODUCT, "Dual 18650 battery mod.", "text", 1),
        (PRODUCT, "Add to cart", "boilerplate", 1),
    ]
    return [make_snippet(url, text, kind, page) for url, text, kind, page in lines]


def _rater(scores: dict[str, float]) -> Rater:
    return lambda texts: [scores.get(text, 0.0) for text in texts]


def test_a_name_hit_brings_its_product_page_description() -> None:
    snippets = _site()
    matches = [{"tobacco_vaping.devices"} if s.text == "Box mod 200 W" else set() for s in snippets]
    order = rank_snippets(snippets, matches, [], [])
    top = [snippets[p].text for p in order[:6]]
    # The home card (name, price) first, then the product page's card down to its text.
    assert top[:2] == ["Box mod 200 W", "A$75.99"]
    assert "Dual 18650 battery mod." in top
    assert "Pod kit" not in top[:3]  # the next product's name is not part of the card


def test_a_description_hit_brings_its_name() -> None:
    snippets = _site()
    matches = [{"x.y"} if s.text == "Dual 18650 battery mod." else set() for s in snippets]
    order = rank_snippets(snippets, matches, [], [])
    assert [snippets[p].text for p in order[:4]] == [
        "Box mod 200 W",
        "A$75.99",
        "In stock",
        "Dual 18650 battery mod.",
    ]


def test_a_rating_alone_does_not_show_buttons_or_boilerplate() -> None:
    snippets = _site()
    rater = _rater({"buy now": 0.99, "dual 18650 battery mod.": 0.9})
    order = rank_snippets(snippets, [set() for _ in snippets], [], [], rater)
    assert snippets[order[0]].text in ("Box mod 200 W", "Dual 18650 battery mod.")
    assert "Buy now" not in [snippets[p].text for p in order[:5]]


def test_indicator_hits_the_model_also_rates_come_first() -> None:
    snippets = _site()
    matches = [{"x.y"} if s.kind == "heading" else set() for s in snippets]
    rater = _rater({"pod kit": 0.95})
    order = rank_snippets(snippets, matches, [], [], rater)
    assert snippets[order[0]].text == "Pod kit"


def test_the_schema_sent_is_flat_and_short_but_validation_is_unchanged() -> None:
    sent = json.dumps(verdict_schema())
    for keyword in ("$ref", "$defs", "discriminator", "title", "maxLength", "default"):
        assert keyword not in sent
    assert verdict_schema()["properties"]["escalation_reason"] == {"type": "string"}
    verdict = {
        "findings": [],
        "site_status": "operating",
        "business_summary": "s" * 2001,  # too long: validation still says so
        "confidence": 0.5,
        "escalation_reason": None,
    }
    assert not _valid(verdict)
    verdict["business_summary"] = "ok"
    assert _valid(verdict)


def _valid(data: dict[str, object]) -> bool:
    try:
        SubmittedVerdict.model_validate(data)
    except ValueError:
        return False
    return True
