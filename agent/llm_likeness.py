"""How much a page sentence reads like a policy rule: sentence-level BM25 against the corpus.

Indicators are exact phrases; a euphemism no indicator lists often still shares the rare
words of some rule's phrases or violating examples ("unauthorised authentic" and the
indicator "unauthorized authentic"; "Quit your job: this system..." and the example
"... quit your job in 30 days"). Each snippet is scored against every rule of the corpus
(one BM25 document per rule: title, phrase indicators, violating examples), less its score
against one document of all the rules' lookalike wording (negative indicators and
not-violating examples), so everyday shop text ("We accept Visa", "returns within 30
days") that merely shares a rule's common words does not rank. Words are folded like
indicators (accents, case, plurals), stopwords of the corpus languages are dropped and
British spellings folded to American ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import bm25s
import numpy as np
from bm25s.stopwords import (
    STOPWORDS_EN_PLUS,
    STOPWORDS_FRENCH,
    STOPWORDS_GERMAN,
    STOPWORDS_SPANISH,
)

from agent.offline.snippets import Snippet
from agent.offline.textmatch import canonical, fold_for_match, words
from merchant_review.policy import PolicyCorpus, PolicyRule

# British spellings folded to American ones, in rule texts and page text alike, so an
# indicator written "unauthorized" meets a page's "unauthorised" ("flavour"/"flavor" too).
_US_SPELLING = (
    (re.compile(r"(?<=\w{3})is(e|ed|es|ing|ation|ations|er|ers)$"), r"iz\1"),
    (re.compile(r"(?<=\w{3})our(s|ed|ing|ite|ites)?$"), r"or\1"),
)


@lru_cache(maxsize=65536)
def _spelling(token: str) -> str:
    for pattern, replacement in _US_SPELLING:
        token = pattern.sub(replacement, token)
    return token


# Function words of the corpus languages: "your", "the", "of" would otherwise make any
# sentence resemble whichever rule's examples use them most.
_STOPWORDS = frozenset(
    fold_for_match(word)
    for listed in (STOPWORDS_EN_PLUS, STOPWORDS_SPANISH, STOPWORDS_GERMAN, STOPWORDS_FRENCH)
    for word in listed
)


def _words(text: str) -> list[str]:
    """Canonical content words of a text, spelling-folded: the rule-likeness terms."""
    return _folded_words(fold_for_match(text))


def _folded_words(folded: str) -> list[str]:
    return [_spelling(canonical(w)) for w in words(folded) if w not in _STOPWORDS]


def _rule_wording(rule: PolicyRule) -> str:
    """What a rule's evidence says: its title, phrase indicators and violating examples
    (descriptions and lookalikes are about the rule, not the words a page uses)."""
    phrases = (*rule.positive_indicators, *rule.supporting_indicators)
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


def best_rules(snippets: Sequence[Snippet], corpus: PolicyCorpus) -> list[tuple[float, str]]:
    """For each snippet, its likeness (see rule_likeness) and the id of the rule it fits
    best ("" when it shares no term with any rule)."""
    table = _rule_weights(corpus)
    fits = []
    for snippet in snippets:
        rows = {table.rows[t] for t in _folded_words(snippet.folded) if t in table.rows}
        if not rows:
            fits.append((0.0, ""))
            continue
        scores = table.weights[sorted(rows)].sum(axis=0)
        best = int(scores[:-1].argmax())
        fits.append((float(scores[best] - scores[-1]), corpus.rules[best].id))
    return fits


def rule_likeness(snippets: Sequence[Snippet], corpus: PolicyCorpus) -> list[float]:
    """Each snippet's BM25 score against the corpus rule its words fit best, less its
    score against the rules' lookalike wording.

    Sentence-level retrieval against every rule (not only the candidates): a euphemism
    no indicator lists often still shares the rare words of some rule's phrases or
    examples ("unauthorised authentic" and "unauthorized authentic"; "quit your job"
    and "quit your job in 30 days"). Shop text that merely shares a rule's everyday words
    ("we accept Visa", "returns within 30 days") is what the lookalikes are made of.
    """
    return [score for score, _ in best_rules(snippets, corpus)]
