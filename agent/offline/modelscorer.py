"""The model scorer: indicator hits plus the trained snippet model's strong evidence.

Every snippet is scored by the snippet model for every category it knows. A snippet at or
above its category's threshold becomes a hit for that category's rule (the rule whose
indicators the same snippet meets, else the category's first rule), labelled
`model:<category>` so that several such snippets count as one distinct piece of evidence
(plus the usual page and snippet bonuses in findings.py). The indicator hits stay as they
are: the model adds recall (euphemisms, paraphrases, other languages) where its score is
high; thresholds were chosen for precision on the train and calibration splits.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.offline.indicators import IndicatorScorer
from agent.offline.model import SnippetModel
from agent.offline.scoring import SnippetHit
from agent.offline.snippets import Snippet
from merchant_review.policy import PolicyCorpus, PolicyRule
from merchant_review.taxonomy import Category

# The weight of one model-backed label: at the threshold a finding's confidence is
# 1 - exp(-BASE) (just above the reject bar of 0.6), rising with the score.
BASE_WEIGHT, SCORE_WEIGHT = 1.0, 1.0
# Kinds of text the model does not judge: a site's own name repeated on every page.
SKIPPED_KINDS = frozenset({"nav"})


class ModelScorer:
    """SnippetScorer: the rules' indicators, and the trained model where it is confident."""

    def __init__(self, model: SnippetModel, indicators: IndicatorScorer | None = None) -> None:
        self.model = model
        self.indicators = indicators or IndicatorScorer()

    @property
    def name(self) -> str:
        return f"snippet-lr@{self.model.version}"

    def score(self, snippets: Sequence[Snippet], corpus: PolicyCorpus) -> list[SnippetHit]:
        hits = self.indicators.score(snippets, corpus)
        return hits + self.model_hits(snippets, corpus, hits)

    def model_hits(
        self, snippets: Sequence[Snippet], corpus: PolicyCorpus, indicator_hits: list[SnippetHit]
    ) -> list[SnippetHit]:
        """Hits for every (snippet, category) the model scores at or above the threshold."""
        active = self.model.active
        if not active:
            return []  # every category switched off: the indicators decide alone
        judged = [s for s in snippets if s.kind not in SKIPPED_KINDS]
        unique = list(dict.fromkeys(s.folded for s in judged))
        scores = self.model.probabilities(unique)
        row = {text: index for index, text in enumerate(unique)}
        by_snippet = _indicator_rules(indicator_hits)
        hits = []
        for snippet in judged:
            values = scores[row[snippet.folded]]
            for column, category, threshold in active:
                probability = float(values[column])
                if probability < threshold:
                    continue
                rule = _rule_for(category, corpus, by_snippet.get(id(snippet), []))
                if rule is None:
                    continue
                strength = BASE_WEIGHT + SCORE_WEIGHT * (probability - threshold) / (
                    1.0 - threshold + 1e-9
                )
                hits.append(
                    SnippetHit(
                        rule=rule,
                        snippet=snippet,
                        evidence={f"model:{category.value}": round(strength, 3)},
                        shown=(f"snippet model {probability:.2f}",),
                    )
                )
        return hits


def _indicator_rules(hits: list[SnippetHit]) -> dict[int, list[PolicyRule]]:
    rules: dict[int, list[PolicyRule]] = {}
    for hit in hits:
        if hit.positive:
            rules.setdefault(id(hit.snippet), []).append(hit.rule)
    return rules


def _rule_for(
    category: Category, corpus: PolicyCorpus, matched: list[PolicyRule]
) -> PolicyRule | None:
    same = [rule for rule in matched if rule.category is category]
    if same:
        return same[0]
    rules = corpus.for_category(category)
    return rules[0] if rules else None
