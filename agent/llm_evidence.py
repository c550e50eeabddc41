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
import numpy as np
from bm25s.stopwords import (
    STOPWORDS_EN_PLUS,
    STOPWORDS_FRENCH,
    STOPWORDS_GERMAN,
    STOPWORDS_SPANISH,
)

from agent.offline.indicators import Role, compiled
from agent.offline.model import (
    DEFAULT_MODEL_PATH,
    ModelError,
    SnippetModel,
    artefact_version,
    load_model,
)
from agent.offline.snippets import Snippet, site_snippets
from agent.offline.textmatch import canonical, canonical_words, fold_for_match, words
from merchant_review.pages import PageSnapshot, fold
from merchant_review.policy import PolicyCorpus, PolicyRule, RetrievedRule
from merchant_review.verdict import Finding, PageCitation

# Outline kinds, in the order they are worth showing when the budget allows.
OUTLINE_KINDS = ("title", "heading", "product", "meta")
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
# British spellings folded to American ones, in rule texts and page text alike, so an
# indicator written "unauthorized" meets a page's "unauthorised" ("flavour"/"flavor" too).
_US_SPELLING = (
    (re.compile(r"(?<=\w{3})is(e|ed|es|ing|ation|ations|er|ers)$"), r"iz\1"),
    (re.compile(r"(?<=\w{3})our(s|ed|ing|ite|ites)?$"), r"or\1"),
)


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
    query = " ".join(hit.rule.search_text() for hit in rules)
    query_tokens = [t for t in canonical_words(fold_for_match(query)) if t]
    if not query_tokens:
        return []
    results, scores = retriever.retrieve([query_tokens], k=len(snippets), show_progress=False)
    return [int(p) for p, s in zip(results[0], scores[0], strict=True) if float(s) > 0]


@lru_cache(maxsize=65536)
def _spelling(token: str) -> str:
    for pattern, replacement in _US_SPELLING:
        token = pattern.sub(replacement, token)
    return token


# Function words of the corpus languages: "your", "the", "of" would otherwise make any
# sentence resemble whichever rule's examples use them most.
_STOPWORDS = frozenset(
    fold_for_match(word)
    for words in (STOPWORDS_EN_PLUS, STOPWORDS_SPANISH, STOPWORDS_GERMAN, STOPWORDS_FRENCH)
    for word in words
)


def _words(text: str) -> list[str]:
    """Canonical content words of a text, spelling-folded: the rule-likeness terms."""
    return _folded_words(fold_for_match(text))


def _folded_words(folded: str) -> list[str]:
    return [_spelling(canonical(w)) for w in words(folded) if w not in _STOPWORDS]


def _rule_wording(rule: PolicyRule) -> str:
    """What a rule's evidence says: its title, phrase indicators and violating examples
    (descriptions and lookalikes are about the rule, not the words a page uses)."""
    phrases = [p for p in (*rule.positive_indicators, *rule.supporting_indicators)]
    return " ".join([rule.title, *(p for p in phrases if not p.startswith("re:")),
                     *rule.examples.violating])  # fmt: skip


def _benign_wording(corpus: PolicyCorpus) -> str:
    """What the rules call lookalikes: negative indicators and not-violating examples."""
    return " ".join(
        text
        for rule in corpus.rules
        for text in (*rule.negative_indicators, *rule.examples.not_violating)
        if not text.startswith("re:")
    )


@dataclass(frozen=True)
class RuleWeights:
    """BM25 weights of every term of the rules' wording, per document: each rule, then
    one document of all their lookalike wording (a query's score against a document is
    the sum of its distinct terms' weights)."""

    rows: dict[str, int]  # term -> row of `weights`
    weights: np.ndarray  # terms x documents


@lru_cache(maxsize=4)  # per corpus object: a reloaded corpus is a new one
def _rule_weights(corpus: PolicyCorpus) -> RuleWeights:
    """Built once per corpus with bm25s (one single-term query per term)."""
    documents = [_rule_wording(rule) for rule in corpus.rules] + [_benign_wording(corpus)]
    index = bm25s.BM25()
    index.index([_words(text) or ["_"] for text in documents], show_progress=False)
    # bm25s's vocabulary also holds an empty string, which no query may use.
    terms = sorted(str(term) for term in index.vocab_dict if term)
    weights = np.array([index.get_scores([term]) for term in terms], dtype=np.float64)
    return RuleWeights({term: row for row, term in enumerate(terms)}, weights)


def rule_likeness(snippets: Sequence[Snippet], corpus: PolicyCorpus) -> list[float]:
    """Each snippet's BM25 score against the corpus rule its words fit best, less its
    score against the rules' lookalike wording.

    Sentence-level retrieval against every rule (not only the candidates): a euphemism
    no indicator lists often still shares the rare words of some rule's phrases or
    examples ("unauthorised authentic" and "unauthorized authentic"; "quit your job"
    and "quit your job in 30 days"). Shop text that merely shares a rule's everyday words
    ("we accept Visa", "returns within 30 days") is what the lookalikes are made of.
    """
    table = _rule_weights(corpus)
    likeness = []
    for snippet in snippets:
        rows = {table.rows[t] for t in _folded_words(snippet.folded) if t in table.rows}
        if not rows:
            likeness.append(0.0)
            continue
        scores = table.weights[sorted(rows)].sum(axis=0)
        likeness.append(float(scores[:-1].max() - scores[-1]))
    return likeness


def _rule_like_order(snippets: Sequence[Snippet], corpus: PolicyCorpus | None) -> list[int]:
    """The RULE_LIKE_TOP snippets (distinct texts, citable kinds) most like a rule."""
    if corpus is None:
        return []
    likeness = rule_likeness(snippets, corpus)
    ranked = sorted(range(len(snippets)), key=lambda p: (-likeness[p], p))
    first: dict[str, int] = {}
    for position in ranked:
        if likeness[position] > 0 and snippets[position].kind in RULE_LIKE_KINDS:
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


def rank_snippets(
    snippets: Sequence[Snippet],
    matches: Sequence[set[str]],
    rules: Sequence[RetrievedRule],
    leads: Iterable[Finding],
    rater: Rater | None = None,
    corpus: PolicyCorpus | None = None,
) -> list[int]:
    """Snippet positions, most worth showing first (each once)."""
    evidence, outline = ranked_tiers(snippets, matches, rules, leads, rater, corpus)
    return list(dict.fromkeys([*evidence, *outline]))


def ranked_tiers(
    snippets: Sequence[Snippet],
    matches: Sequence[set[str]],
    rules: Sequence[RetrievedRule],
    leads: Iterable[Finding],
    rater: Rater | None = None,
    corpus: PolicyCorpus | None = None,
) -> tuple[list[int], list[int]]:
    """Snippet positions in two tiers, each most worth showing first: the evidence (lead
    quotes, indicator hits, rated snippets, the sentences most like a rule's wording,
    each with its product card, then the catalogue's cards) and the outline (the BM25
    ranking against the candidate rules, headings, the rest)."""
    evidence: list[int] = []
    for position in _evidence_order(snippets, matches, leads, rater):
        # A hit with its product card: name, price and description together.
        evidence += _card(snippets, position)
    for position in _rule_like_order(snippets, corpus):
        evidence += _card(snippets, position)
    evidence += _catalogue(snippets)
    order: list[int] = []
    related = _bm25_order(snippets, rules)
    for position in related[:BM25_TOP]:
        order += _card(snippets, position)
    for kind in OUTLINE_KINDS[1:2]:  # headings: what each page is about (the crawl list
        # in the task message has each page's title)
        order += [p for p, s in enumerate(snippets) if s.kind == kind]
    order += related[BM25_TOP:]
    for kind in OUTLINE_KINDS[2:]:
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
    ratings = rater([s.folded for s in snippets]) if rater and snippets else [0.0] * len(snippets)
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
) -> Evidence:
    """The snippets to show, within `budget_chars`, grouped by page in page order."""
    ok = [page for page in pages if page.ok]
    snippets = site_snippets(ok)
    matches = _indicator_matches(snippets, corpus)
    evidence, outline = ranked_tiers(snippets, matches, rules, leads, rater, corpus)
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
    return Evidence(excerpts, met)


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
        return [float(row.max()) if len(row) else 0.0 for row in model.probabilities(texts)]

    return rate


def default_rater() -> Rater | None:
    """The shipped snippet model's rater, or None when there is no usable artefact."""
    found = versioned_default_rater()
    return found[0] if found is not None else None


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
