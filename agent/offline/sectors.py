"""Lines of business: which ones a merchant declared, and which ones its site shows.

The lexicon (sectors.yaml, next to this module) lists ordinary sectors (books, food,
electronics...) with the MCCs that declare them and keywords that show them, and the
policy categories seen as lines of business. Keywords are matched as runs of canonical
words, so "Bluetooth speakers" shows the keyword "bluetooth speaker".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from agent.offline.snippets import Snippet
from agent.offline.textmatch import canonical_words, fold_for_match
from merchant_review.mcc import normalise_mcc
from merchant_review.records import MerchantRecord

MAX_KEYWORD_WORDS = 3
# Text that is not about what the merchant sells: navigation, repeated footers, legal pages.
NOT_BUSINESS_KINDS = frozenset({"nav", "boilerplate", "terms"})


@dataclass(frozen=True)
class Sector:
    id: str
    is_category: bool  # a policy category seen as a line of business
    mcc: frozenset[str]
    related: frozenset[str]  # "*" relates to every sector


@dataclass(frozen=True)
class Declaration:
    """The sectors a merchant's record declares, and which record fields declare them."""

    sectors: frozenset[str]
    by_mcc: frozenset[str]
    by_description: frozenset[str]


class Lexicon:
    """Sectors, their relations and an index of their keywords."""

    def __init__(self, data: Mapping[str, Mapping[str, Mapping[str, list[str]]]]) -> None:
        self.sectors: dict[str, Sector] = {}
        self._keywords: dict[tuple[str, ...], set[str]] = {}
        for group, is_category in (("sectors", False), ("categories", True)):
            for sector_id, entry in data[group].items():
                self._add(sector_id, entry, is_category)
        self._first_words = frozenset(keyword[0] for keyword in self._keywords)

    def _add(self, sector_id: str, entry: Mapping[str, list[str]], is_category: bool) -> None:
        codes = frozenset(filter(None, (normalise_mcc(c) for c in entry.get("mcc", []))))
        related = frozenset(entry.get("related", []))
        self.sectors[sector_id] = Sector(sector_id, is_category, codes, related)
        for keyword in entry.get("keywords", []):
            tokens = canonical_words(fold_for_match(str(keyword)))
            if not 0 < len(tokens) <= MAX_KEYWORD_WORDS:
                raise ValueError(f"sector {sector_id}: keyword {keyword!r} must have 1-3 words")
            self._keywords.setdefault(tokens, set()).add(sector_id)

    def related(self, a: str, b: str) -> bool:
        """Same sector, or one lists the other (or "*") as related."""
        if a == b:
            return True
        sector_a, sector_b = self.sectors.get(a), self.sectors.get(b)
        if sector_a is None or sector_b is None:
            return False
        return bool({b, "*"} & sector_a.related or {a, "*"} & sector_b.related)

    def shown_in(self, tokens: Sequence[str]) -> set[str]:
        """Sectors whose keywords stand in a run of canonical words."""
        found: set[str] = set()
        for start, token in enumerate(tokens):
            if token not in self._first_words:
                continue
            for size in range(1, MAX_KEYWORD_WORDS + 1):
                found |= self._keywords.get(tuple(tokens[start : start + size]), set())
        return found

    def by_mcc(self, code: str | None) -> set[str]:
        normal = normalise_mcc(code)
        return {s.id for s in self.sectors.values() if normal and normal in s.mcc}

    def declared(self, merchant: MerchantRecord | None) -> Declaration:
        """What the record declares: sectors of its MCC and of its business description."""
        if merchant is None:
            return Declaration(frozenset(), frozenset(), frozenset())
        by_mcc = frozenset(self.by_mcc(merchant.mcc))
        description = merchant.business_description or ""
        by_description = frozenset(self.shown_in(canonical_words(fold_for_match(description))))
        return Declaration(by_mcc | by_description, by_mcc, by_description)

    def site_profile(self, snippets: Iterable[Snippet]) -> dict[str, list[Snippet]]:
        """For each ordinary sector: the distinct business snippets that show it."""
        profile: dict[str, list[Snippet]] = {}
        seen: Counter[tuple[str, str]] = Counter()
        for snippet in snippets:
            if snippet.kind in NOT_BUSINESS_KINDS:
                continue
            for sector_id in self.shown_in(snippet.tokens):
                if self.sectors[sector_id].is_category or seen[(sector_id, snippet.text)]:
                    continue
                seen[(sector_id, snippet.text)] += 1
                profile.setdefault(sector_id, []).append(snippet)
        return profile


@cache
def lexicon() -> Lexicon:
    """The shipped lexicon, read once."""
    text = resources.files("agent.offline").joinpath("sectors.yaml").read_text(encoding="utf-8")
    return Lexicon(yaml.safe_load(text))
