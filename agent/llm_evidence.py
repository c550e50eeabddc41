"""Retrieved evidence for the LLM agent: the snippets that matter, not whole sites.

Pasting every fetched page into the prompt costs tokens on every call of every review
(each call resends the conversation) and drowns small models. Instead the opening
message carries, within a character budget, two tiers:

1. evidence, up to the whole budget: the snippets (verbatim pieces of a page's citable
   text, agent.offline.snippets) that meet a positive or supporting policy indicator of
   the corpus or repeat an offline lead's quote, or that a trained snippet model rates
   as evidence, strongest first; then the sentences most like some rule of the whole
   corpus (sentence-level BM25 against each rule's wording, less the likeness to the
   rules' lookalikes: euphemisms no indicator lists); then the catalogue's product
   cards. Each comes with the lines of its product card (name, price, description);
2. outline, within a share of the budget and what the evidence left: the snippets
   closest (BM25) to the candidate rules' texts, the best few; each page's headings; the
   rest of that ranking, then product lines. A clean site has little evidence, and its
   terms and FAQ are not worth the tokens.

Selected snippets are shown grouped by page, in page order, inside the same
`<untrusted_page>` delimiters as whole pages (under an "Excerpts" heading), so they are
quotable verbatim. The model asks for more with `search_site_text` and `fetch_page`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import bm25s

from agent.llm_likeness import best_rules
from agent.offline.indicators import Role, compiled
from agent.offline.model import (
    DEFAULT_MODEL_PATH,
    ModelError,
    SnippetModel,
    artefact_version,
    load_model,
)
from agent.offline.snippets import SiteSnippets, Snippet, site_snippets
from agent.offline.textmatch import canonical_words, fold_for_match
from merchant_review.pages import PageSnapshot, fold
from merchant_review.policy import PolicyCorpus, RetrievedRule
from merchant_review.verdict import Finding, PageCitation

# Outline kinds shown after the rule-text ranking, in the order they are worth showing
# (headings come before that ranking; titles are in the task message's crawl list).
OUTLINE_KINDS = ("product", "meta")
# Rates snippet texts (folded) 0..1 as policy evidence: the offline engine's trained snippet
# model (agent/offline/model.py), which knows euphemisms no indicator lists.
Rater = Callable[[list[str]], list[float]]
RATED_MIN = 0.5  # a rating from which a snippet is shown as evidence (recall, not precision)
# Kinds a rating alone can show: the model rates a risky site's footer, buttons and cookie
# notice high as well (site-wide signal), and those prove nothing.
RATED_KINDS = frozenset({"heading", "product", "text", "faq", "terms"})
CARD_SPAN = 3  # lines looked at around an evidence snippet for its product card
BM25_TOP = 8  # snippets taken from the rule-text ranking before the page outline
OUTLINE_SHARE = 0.25  # of the budget, at most, for the outline once the evidence is in
RULE_LIKE_TOP = 8  # sentences most like some rule's wording, shown right after the evidence
# Kinds a sentence's likeness to a rule can show: navigation, footers, images (alt texts
# repeating a product name) and meta descriptions (repeating page text) add nothing.
RULE_LIKE_KINDS = frozenset({"heading", "product", "text", "faq", "terms"})
_CURRENCY = re.compile(r"[$€£¥]")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Excerpt:
    """The snippets chosen from one page, in the page's order."""

    page: PageSnapshot
    lines: list[str]


@dataclass(frozen=True)
class Evidence:
    """What the opening message shows of the site, and the rules its snippets meet."""

    excerpts: list[Excerpt]
    rule_ids: frozenset[str]  # rules with an indicator met in a shown snippet
    # Rules of the whole corpus that shown sentences read most like (a euphemism's rule
    # may be no candidate): the model is told their ids.
    related: frozenset[str] = frozenset()


def _indicator_matches(snippets: Sequence[Snippet], corpus: PolicyCorpus) -> list[set[str]]:
    """For each snippet, the ids of the rules whose positive or supporting indicators it
    meets (a lookalike context alone, "we accept bank transfer", is no evidence)."""
    engine = compiled(corpus)
    return [
        {
            engine.rules[rule].id
            for number in found
            for rule, role in engine.indicators[number].uses
            if role is not Role.NEGATIVE
        }
        for found in engine.match(snippets)
    ]


def _lead_quotes(leads: Iterable[Finding]) -> list[str]:
    quotes = []
    for lead in leads:
        for citation in lead.citations:
            if isinstance(citation, PageCitation):
                quotes.append(fold(citation.quote).lower())
    return [quote for quote in quotes if quote]


def _bm25_order(snippets: Sequence[Snippet], rules: Sequence[RetrievedRule]) -> list[int]:
    """Snippet positions ranked by BM25 against the candidate rules' texts."""
    if not snippets or not rules:
        return []
    corpus_tokens = [list(snippet.tokens) or ["_"] for snippet in snippets]
    retriever = bm25s.BM25()
    retriever.index(corpus_tokens, show_progress=False)
    query_tokens = _query_tokens(" ".join(hit.rule.search_text() for hit in rules))
    if not query_tokens:
        return []
    results, scores = retriever.retrieve([list(query_tokens)], k=len(snippets), show_progress=False)
    return [int(p) for p, s in zip(results[0], scores[0], strict=True) if float(s) > 0]


@lru_cache(maxsize=256)
def _query_tokens(query: str) -> tuple[str, ...]:
    """The BM25 query of candidate rules' texts: reviews of one batch meet the same few
    rule sets, and folding the rules' wording is most of the query's cost."""
    return tuple(t for t in canonical_words(fold_for_match(query)) if t)


def _rule_like_order(snippets: Sequence[Snippet], fits: Sequence[tuple[float, str]]) -> list[int]:
    """The RULE_LIKE_TOP snippets (distinct texts, citable kinds) most like a rule."""
    ranked = sorted(range(len(fits)), key=lambda p: (-fits[p][0], p))
    first: dict[str, int] = {}
    for position in ranked:
        if fits[position][0] > 0 and snippets[position].kind in RULE_LIKE_KINDS:
            first.setdefault(snippets[position].text, position)
            if len(first) >= RULE_LIKE_TOP:
                break
    return list(first.values())


def _catalogue(snippets: Sequence[Snippet]) -> list[int]:
    """Product cards (a name over a price line), in page order: what the site sells,
    which is evidence in itself when the whole catalogue is a category's goods."""
    names = [
        p
        for p in range(len(snippets) - 1)
        if snippets[p].kind == "heading"
        and _priced(snippets[p + 1])
        and snippets[p + 1].page == snippets[p].page
    ]
    return [line for name in names for line in _card(snippets, name)]


def _priced(snippet: Snippet) -> bool:
    """A price line: kind "product", or a short line of a number and a currency sign (a
    trailing "€" at the end of a line is not always recognised as a product line)."""
    if snippet.kind == "product":
        return True
    text = snippet.text
    return (
        len(text) <= 24 and _CURRENCY.search(text) is not None and _DIGIT.search(text) is not None
    )


def ranked_tiers(
    snippets: Sequence[Snippet],
    matches: Sequence[set[str]],
    rules: Sequence[RetrievedRule],
    leads: Iterable[Finding],
    rater: Rater | None = None,
    rule_like: Sequence[int] = (),
) -> tuple[list[int], list[int]]:
    """Snippet positions in two tiers, each most worth showing first: the evidence (lead
    quotes, indicator hits, rated snippets, the sentences most like a rule's wording,
    each with its product card, then the catalogue's cards) and the outline (the BM25
    ranking against the candidate rules, headings, the rest). `rule_like`: the snippets
    most like a rule's wording (_rule_like_order)."""
    evidence: list[int] = []
    for position in _evidence_order(snippets, matches, leads, rater):
        # A hit with its product card: name, price and description together.
        evidence += _card(snippets, position)
    for position in rule_like:
        evidence += _card(snippets, position)
    evidence += _catalogue(snippets)
    order: list[int] = []
    related = _bm25_order(snippets, rules)
    for position in related[:BM25_TOP]:
        order += _card(snippets, position)
    # Headings: what each page is about.
    order += [p for p, s in enumerate(snippets) if s.kind == "heading"]
    order += related[BM25_TOP:]
    for kind in OUTLINE_KINDS:
        order += [p for p, s in enumerate(snippets) if s.kind == kind]
    evidence = list(dict.fromkeys(evidence))  # first occurrence wins
    shown = set(evidence)
    return evidence, [p for p in dict.fromkeys(order) if p not in shown]


def _evidence_order(
    snippets: Sequence[Snippet],
    matches: Sequence[set[str]],
    leads: Iterable[Finding],
    rater: Rater | None,
) -> list[int]:
    """The evidence snippets, strongest first: lead quotes, then by indicator rules met
    plus the rater's score. With both, a site full of indicator hits (a vape shop) shows
    the hits the model also rates first, not the first pages' (page order on ties)."""
    quotes = _lead_quotes(leads)
    led = [any(q in fold(s.text).lower() for q in quotes) for s in snippets]
    ratings = _ratings(snippets, matches, led, rater)
    pairs = list(zip(snippets, matches, ratings, strict=True))
    rated = [r >= RATED_MIN and s.kind in RATED_KINDS for s, _, r in pairs]
    score = [min(len(met), 2) + r for _, met, r in pairs]
    chosen = [p for p in range(len(snippets)) if led[p] or matches[p] or rated[p]]
    first: dict[str, int] = {}
    repeated: list[int] = []
    for position in sorted(chosen, key=lambda p: (not led[p], -score[p], p)):
        if first.setdefault(snippets[position].text, position) != position:
            repeated.append(position)
    # A line repeated across pages (a product name on the home, shop and product pages)
    # ranks once, then again after the rest: its card on another page (the product page's
    # description) is still worth showing when the budget allows.
    return [*first.values(), *repeated]


def _ratings(
    snippets: Sequence[Snippet],
    matches: Sequence[set[str]],
    led: Sequence[bool],
    rater: Rater | None,
) -> list[float]:
    """The rater's score of each snippet whose score can count, 0.0 for the others.

    A score counts for a snippet of a kind a rating alone can show (RATED_KINDS), and for
    one chosen anyway (a lead's quote, an indicator hit), whose rank it weighs. Any other
    snippet (navigation, boilerplate, image alt texts, meta descriptions, titles) is never
    chosen whatever its score, so it is not rated: the same evidence, for less of the
    model's time (a row's rating does not depend on the other rows).
    """
    ratings = [0.0] * len(snippets)
    if rater is None:
        return ratings
    counted = [p for p, s in enumerate(snippets) if led[p] or matches[p] or s.kind in RATED_KINDS]
    if counted:
        for position, rating in zip(
            counted, rater([snippets[p].folded for p in counted]), strict=True
        ):
            ratings[position] = rating
    return ratings


def _card(snippets: Sequence[Snippet], position: int) -> list[int]:
    """A snippet with its card on the page: a description's name and price lines above
    it, a name's price, stock and description lines below it (an FAQ question's answer)."""
    return [*_above(snippets, position), position, *_below(snippets, position)]


def _above(snippets: Sequence[Snippet], position: int) -> list[int]:
    """The heading and price lines just above a description (its product's name)."""
    if snippets[position].kind not in ("text", "product"):
        return []
    lines: list[int] = []
    for p in range(position - 1, max(position - 1 - CARD_SPAN, -1), -1):
        above = snippets[p]
        if above.page != snippets[position].page or above.kind not in ("heading", "product"):
            break
        lines.insert(0, p)
    return lines


def _below(snippets: Sequence[Snippet], position: int) -> list[int]:
    """The lines below a name (or FAQ question) up to its first sentence of text; stops at
    the next card's name (a heading over a price) and skips buttons and navigation."""
    if snippets[position].kind not in ("heading", "product", "faq"):
        return []
    lines: list[int] = []
    end = min(position + 1 + CARD_SPAN, len(snippets))
    for p in range(position + 1, end):
        below = snippets[p]
        if below.page != snippets[position].page or below.kind == "title":
            break
        if below.kind == "heading" and p + 1 < end and snippets[p + 1].kind == "product":
            break  # the next product's name
        if below.kind in ("boilerplate", "nav", "image", "meta"):
            continue
        lines.append(p)
        if below.kind in ("text", "faq", "terms"):
            break
    return lines


def select_evidence(
    pages: Sequence[PageSnapshot],
    corpus: PolicyCorpus,
    rules: Sequence[RetrievedRule],
    leads: Iterable[Finding],
    *,
    budget_chars: int,
    rater: Rater | None = None,
    snippets: SiteSnippets | None = None,
) -> Evidence:
    """The snippets to show, within `budget_chars`, grouped by page in page order.

    `snippets`: the pages' snippets as the review's AssessmentRequest has them cut
    (`request.snippet_memo.of(pages)`), shared with its evidence floor; else cut here.
    """
    ok = [page for page in pages if page.ok]
    if snippets is None:
        snippets = SiteSnippets(site_snippets(ok))
    matches = _indicator_matches(snippets, corpus)
    fits = best_rules(snippets, corpus)
    rule_like = _rule_like_order(snippets, fits)
    evidence, outline = ranked_tiers(snippets, matches, rules, leads, rater, rule_like)
    chosen: set[int] = set()
    seen_text: set[str] = set()
    used = _fill(snippets, evidence, budget_chars, chosen, seen_text)
    # The outline gets what the evidence left, up to a share of the budget: a clean site
    # has little evidence, and filling its budget with page text would only cost tokens.
    _fill(snippets, outline, min(budget_chars - used, int(budget_chars * OUTLINE_SHARE)),
          chosen, seen_text)  # fmt: skip
    by_page: dict[int, list[str]] = defaultdict(list)
    for position in sorted(chosen):
        by_page[snippets[position].page].append(snippets[position].text)
    excerpts = [Excerpt(ok[index], lines) for index, lines in sorted(by_page.items())]
    met = frozenset(rule for position in chosen for rule in matches[position])
    related = frozenset(fits[p][1] for p in rule_like if p in chosen)
    return Evidence(excerpts, met, related)


def _fill(
    snippets: Sequence[Snippet],
    order: Sequence[int],
    budget: int,
    chosen: set[int],
    seen_text: set[str],
) -> int:
    """Add snippets in `order` to `chosen` within `budget` characters; the characters used."""
    used = 0
    for position in order:
        text = snippets[position].text
        if text in seen_text:
            continue  # boilerplate repeated on every page is shown once
        if used + len(text) > budget:
            continue  # a shorter one further down may still fit
        chosen.add(position)
        seen_text.add(text)
        used += len(text) + 1
    return used


def model_rater(model: SnippetModel) -> Rater:
    """A rater from the offline snippet model: its highest category probability."""

    def rate(texts: list[str]) -> list[float]:
        # A site repeats its navigation, footer and cookie notice on every page: each
        # distinct text is rated once (a row's rating does not depend on the other rows).
        distinct = list(dict.fromkeys(texts))
        rows = model.probabilities(distinct)
        rating = {
            t: float(row.max()) if len(row) else 0.0 for t, row in zip(distinct, rows, strict=True)
        }
        return [rating[text] for text in texts]

    return rate


def versioned_default_rater() -> tuple[Rater, str] | None:
    """The shipped snippet model's rater and its artefact version (a content hash), or
    None when there is no usable artefact. The version goes into the prompt version: the
    excerpts a model is shown depend on the artefact."""
    if not DEFAULT_MODEL_PATH.is_file():
        return None
    try:
        version = artefact_version(DEFAULT_MODEL_PATH)
        return _load_rater(version), version
    except (ModelError, OSError, ValueError, KeyError):
        return None  # a missing or foreign artefact: indicators and BM25 alone


@cache
def _load_rater(version: str) -> Rater:  # one load per artefact version
    return model_rater(load_model(DEFAULT_MODEL_PATH))
