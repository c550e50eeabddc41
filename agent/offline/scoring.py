"""The seam between evidence extraction and the engine: scorers rate snippets per rule.

The engine asks a `SnippetScorer` which snippets are evidence for which policy rule and
how strongly. The indicator scorer (agent/offline/indicators.py) does it with the rules'
phrases; a trained snippet classifier can implement the same protocol (mapping its
category scores to the category's rules) and be passed to `OfflineAssessor(scorer=...)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from agent.offline.mentions import Mention
from agent.offline.snippets import Snippet
from merchant_review.policy import PolicyCorpus, PolicyRule


@dataclass(frozen=True)
class SnippetHit:
    """What a scorer found in one snippet for one rule.

    `evidence` maps each distinct piece of positive evidence (an indicator, or a model's
    label) to its weight in 0..1; several snippets showing the same indicator count it
    once. `supporting` only strengthens a finding that positive evidence makes.
    `lookalikes` says why the hit does not count (a legitimate lookalike context); a hit
    may carry lookalikes only, to tell that such context stands on the page.
    """

    rule: PolicyRule
    snippet: Snippet
    evidence: Mapping[str, float]
    shown: tuple[str, ...] = ()  # what was met, as words a reader recognises
    supporting: tuple[str, ...] = ()
    lookalikes: tuple[str, ...] = ()
    # Each positive match with the words around it (agent/offline/mentions.py): the same
    # words around the same indicator on several snippets are one mention repeated.
    mentions: tuple[Mention, ...] = ()

    @property
    def suppressed(self) -> bool:
        return bool(self.lookalikes)

    @property
    def positive(self) -> bool:
        return bool(self.evidence) and not self.lookalikes

    @property
    def strength(self) -> float:
        return sum(self.evidence.values())


class SnippetScorer(Protocol):
    @property
    def name(self) -> str:
        """A short id that the engine id carries (e.g. "indicators")."""
        ...

    def score(self, snippets: Sequence[Snippet], corpus: PolicyCorpus) -> list[SnippetHit]:
        """Every (rule, snippet) pair with evidence, lookalikes marked, in snippet order."""
        ...
