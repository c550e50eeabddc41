"""Excerpt ranking of the LLM agent: product cards, rated snippets, repeated names; and
the compact verdict schema sent to the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.llm_evidence import (
    OUTLINE_SHARE,
    RULE_LIKE_TOP,
    Rater,
    _indicator_matches,
    model_rater,
    ranked_tiers,
    select_evidence,
    versioned_default_rater,
)
from agent.llm_likeness import rule_likeness
from agent.llm_schema import SubmittedVerdict, verdict_schema
from agent.offline.model import DEFAULT_MODEL_PATH, load_model
from agent.offline.snippets import Snippet, make_snippet, site_snippets
from merchant_review.pages import PageSnapshot
from merchant_review.policy import PolicyCorpus, PolicyRule, RuleExamples
from merchant_review.taxonomy import Category

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


def _order(*args: Any) -> list[int]:
    """Snippet positions, most worth showing first: the evidence tier, then the outline."""
    evidence, outline = ranked_tiers(*args)
    return [*evidence, *outline]


def _rater(scores: dict[str, float]) -> Rater:
    return lambda texts: [scores.get(text, 0.0) for text in texts]


def test_a_name_hit_brings_its_product_page_description() -> None:
    snippets = _site()
    matches = [{"tobacco_vaping.devices"} if s.text == "Box mod 200 W" else set() for s in snippets]
    order = _order(snippets, matches, [], [])
    top = [snippets[p].text for p in order[:6]]
    # The home card (name, price) first, then the product page's card down to its text.
    assert top[:2] == ["Box mod 200 W", "A$75.99"]
    assert "Dual 18650 battery mod." in top
    assert "Pod kit" not in top[:3]  # the next product's name is not part of the card


def test_a_description_hit_brings_its_name() -> None:
    snippets = _site()
    matches = [{"x.y"} if s.text == "Dual 18650 battery mod." else set() for s in snippets]
    order = _order(snippets, matches, [], [])
    assert [snippets[p].text for p in order[:4]] == [
        "Box mod 200 W",
        "A$75.99",
        "In stock",
        "Dual 18650 battery mod.",
    ]


def test_a_rating_alone_does_not_show_buttons_or_boilerplate() -> None:
    snippets = _site()
    rater = _rater({"buy now": 0.99, "dual 18650 battery mod.": 0.9})
    order = _order(snippets, [set() for _ in snippets], [], [], rater)
    assert snippets[order[0]].text in ("Box mod 200 W", "Dual 18650 battery mod.")
    assert "Buy now" not in [snippets[p].text for p in order[:5]]


def test_indicator_hits_the_model_also_rates_come_first() -> None:
    snippets = _site()
    matches = [{"x.y"} if s.kind == "heading" else set() for s in snippets]
    rater = _rater({"pod kit": 0.95})
    order = _order(snippets, matches, [], [], rater)
    assert snippets[order[0]].text == "Pod kit"


def test_only_snippets_whose_rating_can_count_are_rated() -> None:
    """Titles, buttons and boilerplate are never shown on a rating alone, so they are not
    rated unless an indicator hit (or a lead) chooses them."""
    snippets = _site()
    matches = [{"x.y"} if s.text == "Add to cart" else set() for s in snippets]
    scores = {"add to cart": 0.7, "buy now": 0.99, "pod kit": 0.6, "shop | example": 0.9}
    asked: list[str] = []

    def recording(texts: list[str]) -> list[float]:
        asked.extend(texts)
        return _rater(scores)(texts)

    order = _order(snippets, matches, [], [], recording)
    assert "buy now" not in asked and "shop | example" not in asked  # boilerplate, title
    assert "add to cart" in asked and "pod kit" in asked  # a hit; a heading
    evidence, _ = ranked_tiers(snippets, matches, [], [], recording)
    assert snippets[evidence[0]].text == "Add to cart"  # the hit, weighed by its rating
    assert "Pod kit" in [snippets[p].text for p in evidence]  # rated alone
    assert order[: len(evidence)] == evidence


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


# -- sentence-level likeness to the whole corpus, the catalogue, the budget ---------------


def _corpus(tmp_path: Path) -> PolicyCorpus:
    def rule(rule_id: str, category: Category, title: str, **lists: list[str]) -> PolicyRule:
        return PolicyRule(
            id=rule_id,
            category=category,
            tier=category.tier,
            title=title,
            description=f"{title}.",
            positive_indicators=lists.get("positive", []),
            negative_indicators=lists.get("negative", []),
            examples=RuleExamples(
                violating=lists.get("violating", []), not_violating=lists.get("benign", [])
            ),
        )

    rules = [
        rule(
            "counterfeit_ip.replica_goods",
            Category.COUNTERFEIT_IP,
            "Replica branded goods",
            positive=["unauthorized authentic", "1:1 replica"],
            violating=["Mirror-quality replica handbags from the same factory."],
            benign=["Pre-owned designer bags, authenticated by our experts."],
        ),
        rule(
            "financial_services.money_transmission",
            Category.FINANCIAL_SERVICES,
            "Money transmission",
            positive=["send money abroad"],
            negative=["we accept", "payment methods"],
            benign=["Payment methods: we accept Visa, Mastercard and bank transfer."],
        ),
    ]
    # Its own version: compiled indicators are cached by corpus version.
    return PolicyCorpus(rules, version="corpus-test-excerpts", source=tmp_path)


def _page(lines: list[str]) -> PageSnapshot:
    return PageSnapshot(url=TERMS, requested_url=TERMS, status=200, text="\n".join(lines))


TERMS = "https://bags.example/terms.html"
EUPHEMISM = "Designer sneakers: unauthorised authentic, same factory, same box."
FILLER = [
    f"Clause {n}: orders are packed with care and shipped within two days." for n in range(40)
]


def test_a_euphemism_worded_like_a_rule_is_selected_among_filler(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    page = _page([*FILLER[:20], EUPHEMISM, *FILLER[20:], "We accept Visa and PayPal."])
    # No candidate rule, no indicator met ("unauthorised" is not "unauthorized"): only its
    # likeness to a rule of the whole corpus (spelling folded) brings it.
    assert not any(_indicator_matches(site_snippets([page]), corpus))
    shown = select_evidence([page], corpus, [], [], budget_chars=400)
    lines = [line for excerpt in shown.excerpts for line in excerpt.lines]
    assert EUPHEMISM in lines
    # The rule it reads like is named to the model although it was no candidate.
    assert "counterfeit_ip.replica_goods" in shown.related
    snippets = site_snippets([page])
    likeness = dict(zip((s.text for s in snippets), rule_likeness(snippets, corpus), strict=True))
    # Shop wording the rules list as lookalikes ranks below it.
    assert likeness[EUPHEMISM] > likeness["We accept Visa and PayPal."]


def test_the_catalogue_cards_come_with_the_evidence() -> None:
    lines = [
        (HOME, "Dollars américains", "heading", 0),
        (HOME, "1 549,99 €", "heading", 0),  # a price line the snippet kinds miss
        (HOME, "Commandez en ligne, livraison le lendemain.", "text", 0),
        (HOME, "About us", "heading", 0),
        (HOME, "We have exchanged currencies since 2013.", "text", 0),
    ]
    snippets = [make_snippet(url, text, kind, page) for url, text, kind, page in lines]
    evidence, outline = ranked_tiers(snippets, [set()] * len(snippets), [], [])
    assert [snippets[p].text for p in evidence] == [line[1] for line in lines[:3]]
    assert 3 in outline


def test_the_budget_is_respected_and_a_clean_site_does_not_fill_it(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    risky = _page([f"Send money abroad today, offer {n}." for n in range(60)])
    shown = select_evidence([risky], corpus, [], [], budget_chars=500)
    used = sum(len(line) + 1 for excerpt in shown.excerpts for line in excerpt.lines)
    assert 400 < used <= 500
    clean = _page(FILLER)
    shown = select_evidence([clean], corpus, [], [], budget_chars=2000)
    used = sum(len(line) + 1 for excerpt in shown.excerpts for line in excerpt.lines)
    # No evidence: rule-like sentences, then the outline within its share of the budget.
    assert used <= RULE_LIKE_TOP * max(map(len, FILLER)) + 2000 * OUTLINE_SHARE


def test_the_model_rater_rates_repeated_texts_once_with_the_same_ratings() -> None:
    """Each distinct text is rated once; every text gets the rating a row of its own has."""
    rated: list[list[str]] = []

    class Model:
        def probabilities(self, texts: list[str]) -> np.ndarray:
            rated.append(list(texts))
            return np.array([[len(t) / 100, 0.1] for t in texts])

    texts = ["add to cart", "box mod 200 w", "add to cart", "cookie notice", "box mod 200 w"]
    ratings = model_rater(Model())(texts)  # type: ignore[arg-type]
    assert rated == [["add to cart", "box mod 200 w", "cookie notice"]]
    assert ratings == [0.11, 0.13, 0.11, 0.13, 0.13]


def test_the_shipped_model_rates_a_site_the_same_with_repeats_folded() -> None:
    found = versioned_default_rater()
    if found is None:
        pytest.skip("no shipped snippet model")
    model = load_model(DEFAULT_MODEL_PATH)
    texts = [s.folded for s in _site()] * 3 + ["free shipping", "cbd oil 10%", "free shipping"]
    one_by_one = [float(model.probabilities([t])[0].max()) for t in texts]
    assert found[0](texts) == one_by_one
