"""The indicator scorer: the policy rules' phrases and patterns matched on snippets.

Every indicator of a corpus is compiled once per corpus version. Phrases are looked up
through an index of their words, so a snippet only runs the few patterns whose words it
contains; `re:` patterns run once per page over the page's folded snippets. A negative
indicator (a lookalike context) in the same snippet cancels the rule's hit there; when
lookalike contexts dominate a page, weak hits on that page are cancelled too.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from threading import Lock

from agent.offline.mentions import Mention, mention
from agent.offline.regexgate import Gate, GateScan, pattern_gate
from agent.offline.scoring import SnippetHit
from agent.offline.snippets import SiteSnippets, Snippet
from agent.offline.textmatch import PhraseIndex, fold_for_match, indicator_pattern, words
from merchant_review.policy import PolicyCorpus, PolicyRule

# How much one indicator proves on its own: a regex or several words are specific; a
# single word is more often used in passing.
SPECIFIC_WEIGHT = 1.0
SINGLE_WORD_WEIGHT = 0.8
# A single word in terms pages, navigation and repeated boilerplate proves a little less
# (it is more often a passing mention there). A specific indicator (a phrase or pattern:
# "no prescription needed", "22% THC") is evidence wherever it stands: a planted terms,
# FAQ or about sentence is an offer all the same, so its weight is not discounted.
KIND_WEIGHT = {"terms": 0.7, "nav": 0.8, "boilerplate": 0.8, "faq": 0.9, "image": 0.9, "meta": 0.9}
# A page is dominated by lookalike context when this many snippets show one and they
# outnumber the hits at least twice; hits with a single distinct indicator then drop.
DOMINANT_LOOKALIKES = 3
_PAGE_JOIN = "\n\x00\n"  # no phrase or `\s`/`.` pattern runs across it


class Role(Enum):
    POSITIVE = "positive"
    SUPPORTING = "supporting"
    NEGATIVE = "negative"


@dataclass(frozen=True)
class Met:
    """Where an indicator matched in a snippet's folded text, and what it matched."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Indicator:
    """One distinct indicator, with every rule (and role) that lists it."""

    text: str  # as written in the rule
    source: str  # its regular expression (agent/offline/textmatch.indicator_pattern)
    weight: float
    uses: tuple[tuple[int, Role], ...]  # (rule position, role) for every rule that lists it
    gate: Gate = ()  # for a pattern: literal sets every match has one of each of

    @property
    def is_pattern(self) -> bool:
        return self.text.startswith("re:")

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """Compiled when first needed: a review meets few of the corpus's thousands of
        indicators, and compiling all of them up front took most of the corpus's load."""
        return re.compile(self.source)


def _weight(indicator: str) -> float:
    if indicator.startswith("re:") or len(words(fold_for_match(indicator))) > 1:
        return SPECIFIC_WEIGHT
    return SINGLE_WORD_WEIGHT


def _compile(rules: list[PolicyRule]) -> list[Indicator]:
    """Every distinct indicator of the rules (same pattern, one indicator), compiled."""
    uses: dict[str, list[tuple[int, Role]]] = defaultdict(list)
    texts: dict[str, str] = {}
    for position, rule in enumerate(rules):
        for role, indicators in (
            (Role.POSITIVE, rule.positive_indicators),
            (Role.SUPPORTING, rule.supporting_indicators),
            (Role.NEGATIVE, rule.negative_indicators),
        ):
            for text in indicators:
                source = indicator_pattern(text)
                uses[source].append((position, role))
                texts.setdefault(source, text)
    return [
        Indicator(
            text=texts[source],
            source=source,
            weight=_weight(texts[source]),
            uses=tuple(used),
            gate=pattern_gate(source) if texts[source].startswith("re:") else (),
        )
        for source, used in uses.items()
    ]


class CompiledCorpus:
    """Every indicator of one corpus version, compiled and indexed."""

    def __init__(self, corpus: PolicyCorpus) -> None:
        self.version = corpus.version
        self.rules: list[PolicyRule] = list(corpus.rules)
        self.indicators = _compile(self.rules)
        # Phrases by the words a snippet must contain for them to match; patterns apart.
        self.phrases: PhraseIndex[int] = PhraseIndex()
        for number, indicator in enumerate(self.indicators):
            if not indicator.is_pattern:
                self.phrases.add(number, indicator.text)
        self.unkeyed = tuple(n for n, i in enumerate(self.indicators) if i.is_pattern)
        self.gates = GateScan([self.indicators[n].gate for n in self.unkeyed])

    def match(self, snippets: Sequence[Snippet]) -> Sequence[Mapping[int, Met]]:
        """For each snippet: the indicators met in it, with where and what they met.

        Each snippet's indicators come in a fixed order (its phrases by indicator number,
        then its patterns by number), whatever the process's string hashing: the order a
        finding's rationale lists them in (agent/offline/findings.py).

        A review's SiteSnippets keep the result (agent/offline/snippets.py): the model's
        excerpts and the evidence floor's offline engine match the same snippets once.
        """
        if not isinstance(snippets, SiteSnippets):
            return self._match(snippets)
        found = snippets.indicator_matches.get(self)
        if found is None:
            found = snippets.indicator_matches[self] = self._match(snippets)
        return found

    def _match(self, snippets: Sequence[Snippet]) -> list[dict[int, Met]]:
        found: list[dict[int, Met]] = [{} for _ in snippets]
        for position, snippet in enumerate(snippets):
            for number in self.phrases.candidates(snippet.keys):
                hit = self.indicators[number].pattern.search(snippet.folded)
                if hit:
                    found[position][number] = Met(hit.start(), hit.end(), hit.group(0))
        for positions in _by_page(snippets).values():
            self._match_patterns(snippets, positions, found)
        return found

    def _match_patterns(
        self, snippets: Sequence[Snippet], positions: list[int], found: list[dict[int, Met]]
    ) -> None:
        """Run the `re:` indicators once over a whole page, then place each match."""
        starts, offset = [], 0
        for position in positions:
            starts.append(offset)
            offset += len(snippets[position].folded) + len(_PAGE_JOIN)
        joined = _PAGE_JOIN.join(snippets[position].folded for position in positions)
        for candidate in self.gates.candidates(joined):
            number = self.unkeyed[candidate]
            for hit in self.indicators[number].pattern.finditer(joined):
                slot = bisect_right(starts, hit.start()) - 1
                position, offset = positions[slot], starts[slot]
                if hit.end() <= offset + len(snippets[position].folded):
                    met = Met(hit.start() - offset, hit.end() - offset, hit.group(0))
                    found[position].setdefault(number, met)


def _by_page(snippets: Sequence[Snippet]) -> dict[int, list[int]]:
    pages: dict[int, list[int]] = defaultdict(list)
    for position, snippet in enumerate(snippets):
        pages[snippet.page].append(position)
    return pages


_CACHE: dict[str, CompiledCorpus] = {}
_CACHE_LOCK = Lock()
_CACHE_SIZE = 4


def compiled(corpus: PolicyCorpus) -> CompiledCorpus:
    """The compiled form of a corpus, built once per corpus version."""
    with _CACHE_LOCK:
        cached = _CACHE.get(corpus.version)
        if cached is None:
            cached = CompiledCorpus(corpus)
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[corpus.version] = cached
        return cached


@dataclass
class _RuleMatch:
    """One rule's indicators in one snippet, before lookalikes are weighed."""

    evidence: dict[str, float]
    shown: list[str]
    supporting: list[str]
    lookalikes: list[str]
    mentions: list[Mention] = field(default_factory=list)


class IndicatorScorer:
    """Scores snippets by the rules' positive, supporting and negative indicators."""

    name = "indicators"

    def score(self, snippets: Sequence[Snippet], corpus: PolicyCorpus) -> list[SnippetHit]:
        engine = compiled(corpus)
        found = engine.match(snippets)
        per_snippet = [
            _rule_matches(engine, matches, snippets[i]) for i, matches in enumerate(found)
        ]
        dominated = _dominated_pages(snippets, per_snippet)
        hits = []
        for position, matches in enumerate(per_snippet):
            snippet = snippets[position]
            for rule_position, match in matches.items():
                if not (match.evidence or match.supporting or match.lookalikes):
                    continue
                lookalikes = list(match.lookalikes)
                page_context = dominated.get((rule_position, snippet.page))
                if page_context and len(match.evidence) <= 1:
                    lookalikes.append(f"page dominated by lookalike context ({page_context})")
                hits.append(
                    SnippetHit(
                        rule=engine.rules[rule_position],
                        snippet=snippet,
                        evidence=match.evidence,
                        shown=tuple(match.shown),
                        supporting=tuple(match.supporting),
                        lookalikes=tuple(lookalikes),
                        mentions=tuple(match.mentions),
                    )
                )
        return hits


def _rule_matches(
    engine: CompiledCorpus, matches: Mapping[int, Met], snippet: Snippet
) -> dict[int, _RuleMatch]:
    """Group one snippet's indicator matches by rule and role."""
    kind_weight = KIND_WEIGHT.get(snippet.kind, 1.0)
    by_rule: dict[int, _RuleMatch] = {}
    positive_spans: dict[int, list[Met]] = defaultdict(list)
    for number, met in matches.items():
        for rule_position, role in engine.indicators[number].uses:
            if role is Role.POSITIVE:
                positive_spans[rule_position].append(met)
    for number, met in matches.items():
        indicator = engine.indicators[number]
        for rule_position, role in indicator.uses:
            match = by_rule.setdefault(rule_position, _RuleMatch({}, [], [], []))
            shown = _shown(indicator.text, met.text)
            if role is Role.NEGATIVE:
                match.lookalikes.append(shown)
            elif _inside_other(met, positive_spans[rule_position]):
                # Words inside a longer positive match ("vapes" in "disposable vapes",
                # "nicotine" in "nicotine pouches") are that evidence, not more of it.
                continue
            elif role is Role.SUPPORTING:
                match.supporting.append(shown)
            else:
                discount = 1.0 if indicator.weight >= SPECIFIC_WEIGHT else kind_weight
                match.evidence[indicator.text] = indicator.weight * discount
                match.shown.append(shown)
                match.mentions.extend(_mentions(snippet, indicator.pattern))
    return by_rule


def _mentions(snippet: Snippet, pattern: re.Pattern[str]) -> list[Mention]:
    """Every occurrence of the indicator in the snippet, as a mention (agent/offline/mentions)."""
    folded = snippet.folded
    return [
        mention(
            folded[: hit.start()].split(),
            hit.group(0).strip(),
            folded[hit.end() :].split(),
            f"{snippet.url} {folded}",
        )
        for hit in pattern.finditer(folded)
    ]


def _inside_other(met: Met, spans: list[Met]) -> bool:
    """Whether `met` lies within another positive match (of equal spans, the first wins)."""
    for index, other in enumerate(spans):
        if other is met or not (other.start <= met.start and met.end <= other.end):
            continue
        if other.end - other.start > met.end - met.start:
            return True
        if not any(earlier is met for earlier in spans[:index]):
            return True
    return False


def _shown(indicator: str, matched: str) -> str:
    # A pattern is shown by what it matched ("22% thc"), a phrase as the rule writes it.
    return matched.strip()[:60] if indicator.startswith("re:") else indicator


def _dominated_pages(
    snippets: Sequence[Snippet], per_snippet: list[dict[int, _RuleMatch]]
) -> dict[tuple[int, int], str]:
    """(rule, page) pairs where lookalike context dominates, with an example of it."""
    lookalike_count: dict[tuple[int, int], int] = defaultdict(int)
    positive_count: dict[tuple[int, int], int] = defaultdict(int)
    example: dict[tuple[int, int], str] = {}
    for snippet, matches in zip(snippets, per_snippet, strict=True):
        for rule_position, match in matches.items():
            key = (rule_position, snippet.page)
            if match.lookalikes:
                lookalike_count[key] += 1
                example.setdefault(key, match.lookalikes[0])
            elif match.evidence:
                positive_count[key] += 1
    return {
        key: example[key]
        for key, count in lookalike_count.items()
        if count >= DOMINANT_LOOKALIKES and count >= 2 * positive_count[key]
    }
