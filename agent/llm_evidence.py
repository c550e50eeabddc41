"""Retrieved evidence for the LLM agent: the snippets that matter, not whole sites.

Pasting every fetched page into the prompt costs tokens on every call of every review
(each call resends the conversation) and drowns small models. Instead the opening
message carries, within a character budget:

1. the snippets (verbatim pieces of a page's citable text, agent.offline.snippets) that
   meet any policy indicator of the corpus (positive, supporting or lookalike), or that
   repeat an offline lead's quote, strongest first, each with the two lines that follow
   it on its page (a product card: name, price, description); then the snippets a
   trained snippet model rates as evidence (euphemisms no indicator lists), if given;
2. the snippets closest (BM25) to the candidate rules' texts, the best few;
3. each page's title and headings (an outline of the site), then the rest of the BM25
   ranking, then product lines.

Selected snippets are shown grouped by page, in page order, inside the same
`<untrusted_page>` delimiters as whole pages (marked `excerpt="true"`), so they are
quotable verbatim. The model asks for more with `search_site_text` and `fetch_page`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import bm25s

from agent.offline.indicators import compiled
from agent.offline.model import (
    DEFAULT_MODEL_PATH,
    ModelError,
    SnippetModel,
    artefact_version,
    load_model,
)
from agent.offline.snippets import Snippet, site_snippets
from agent.offline.textmatch import canonical_words, fold_for_match
from merchant_review.pages import PageSnapshot, fold
from merchant_review.policy import PolicyCorpus, RetrievedRule
from merchant_review.verdict import Finding, PageCitation

# Outline kinds, in the order they are worth showing when the budget allows.
OUTLINE_KINDS = ("title", "heading", "product", "meta")
# Rates snippet texts (folded) 0..1 as policy evidence: the offline engine's trained snippet
# model (agent/offline/model.py), which knows euphemisms no indicator lists.
Rater = Callable[[list[str]], list[float]]
RATED_MIN = 0.5  # a rating from which a snippet is shown as evidence (recall, not precision)
CARD_LINES = 2  # lines shown after an evidence snippet: a product's price and description
BM25_TOP = 8  # snippets taken from the rule-text ranking before the page outline


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


def _indicator_matches(snippets: Sequence[Snippet], corpus: PolicyCorpus) -> list[set[str]]:
    """For each snippet, the ids of the rules whose indicators it meets."""
    engine = compiled(corpus)
    return [
        {engine.rules[rule].id for number in found for rule, _ in engine.indicators[number].uses}
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
    query = " ".join(hit.rule.search_text() for hit in rules)
    query_tokens = [t for t in canonical_words(fold_for_match(query)) if t]
    if not query_tokens:
        return []
    results, scores = retriever.retrieve([query_tokens], k=len(snippets), show_progress=False)
    return [int(p) for p, s in zip(results[0], scores[0], strict=True) if float(s) > 0]


def rank_snippets(
    snippets: Sequence[Snippet],
    matches: Sequence[set[str]],
    rules: Sequence[RetrievedRule],
    leads: Iterable[Finding],
    rater: Rater | None = None,
) -> list[int]:
    """Snippet positions, most worth showing first (each once)."""
    strength = [len(met) for met in matches]
    quotes = _lead_quotes(leads)
    led = [any(q in fold(s.text).lower() for q in quotes) for s in snippets]
    # Evidence first: lead quotes, then indicator hits by strength (page order on ties).
    evidence = sorted(
        (p for p in range(len(snippets)) if led[p] or strength[p]),
        key=lambda p: (not led[p], -strength[p], p),
    )
    evidence += _rated(snippets, rater)
    order: list[int] = []
    for position in evidence:
        # A product's name, then its description line: the hit with its page context.
        order += [position, *_next_on_page(snippets, position)]
    related = _bm25_order(snippets, rules)
    order += related[:BM25_TOP]
    for kind in OUTLINE_KINDS[:2]:  # titles and headings: what each page is about
        order += [p for p, s in enumerate(snippets) if s.kind == kind]
    order += related[BM25_TOP:]
    for kind in OUTLINE_KINDS[2:]:
        order += [p for p, s in enumerate(snippets) if s.kind == kind]
    return list(dict.fromkeys(order))  # first occurrence wins


def _rated(snippets: Sequence[Snippet], rater: Rater | None) -> list[int]:
    """Positions the rater scores at RATED_MIN or more, best first."""
    if rater is None or not snippets:
        return []
    ratings = rater([snippet.folded for snippet in snippets])
    rated = [p for p, rating in enumerate(ratings) if rating >= RATED_MIN]
    return sorted(rated, key=lambda p: -ratings[p])


def _next_on_page(snippets: Sequence[Snippet], position: int) -> list[int]:
    """The CARD_LINES lines after a snippet on its page (a card: name, price, text)."""
    page = snippets[position].page
    following = range(position + 1, min(position + 1 + CARD_LINES, len(snippets)))
    return [p for p in following if snippets[p].page == page]


def select_evidence(
    pages: Sequence[PageSnapshot],
    corpus: PolicyCorpus,
    rules: Sequence[RetrievedRule],
    leads: Iterable[Finding],
    *,
    budget_chars: int,
    rater: Rater | None = None,
) -> Evidence:
    """The snippets to show, within `budget_chars`, grouped by page in page order."""
    ok = [page for page in pages if page.ok]
    snippets = site_snippets(ok)
    matches = _indicator_matches(snippets, corpus)
    chosen: set[int] = set()
    used = 0
    seen_text: set[str] = set()
    for position in rank_snippets(snippets, matches, rules, leads, rater):
        text = snippets[position].text
        if text in seen_text:
            continue  # boilerplate repeated on every page is shown once
        if used + len(text) > budget_chars:
            continue  # a shorter one further down may still fit
        chosen.add(position)
        seen_text.add(text)
        used += len(text) + 1
    by_page: dict[int, list[str]] = defaultdict(list)
    for position in sorted(chosen):
        by_page[snippets[position].page].append(snippets[position].text)
    excerpts = [Excerpt(ok[index], lines) for index, lines in sorted(by_page.items())]
    met = frozenset(rule for position in chosen for rule in matches[position])
    return Evidence(excerpts, met)


def model_rater(model: SnippetModel) -> Rater:
    """A rater from the offline snippet model: its highest category probability."""

    def rate(texts: list[str]) -> list[float]:
        return [float(row.max()) if len(row) else 0.0 for row in model.probabilities(texts)]

    return rate


def default_rater() -> Rater | None:
    """The shipped snippet model's rater, or None when there is no usable artefact."""
    if not DEFAULT_MODEL_PATH.is_file():
        return None
    try:
        return _load_rater(artefact_version(DEFAULT_MODEL_PATH))
    except (ModelError, OSError, ValueError, KeyError):
        return None  # a missing or foreign artefact: indicators and BM25 alone


@cache
def _load_rater(version: str) -> Rater:  # one load per artefact version
    return model_rater(load_model(DEFAULT_MODEL_PATH))
