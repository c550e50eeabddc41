"""Lines of business: which ones a merchant declared, and which ones its site shows.

The lexicon (sectors.yaml, next to this module) lists ordinary sectors (books, food,
electronics...) with the MCCs that declare them and keywords that show them, and the
policy categories seen as lines of business. Keywords are matched as runs of canonical
words, so "Bluetooth speakers" shows the keyword "bluetooth speaker".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from agent.offline.mentions import Mention, MentionCounter, mention
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
        return {sector for sector, _, _ in self.shown_at(tokens)}

    def shown_at(self, tokens: Sequence[str]) -> list[tuple[str, int, int]]:
        """(sector, start, end) for every keyword run in the canonical words."""
        found = []
        for start, token in enumerate(tokens):
            if token not in self._first_words:
                continue
            for size in range(1, MAX_KEYWORD_WORDS + 1):
                for sector in self._keywords.get(tuple(tokens[start : start + size]), ()):
                    found.append((sector, start, start + size))
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

    def site_profile(
        self, snippets: Iterable[Snippet], names: Sequence[str] = ()
    ) -> dict[str, list[Snippet]]:
        """For each ordinary sector: the distinct business snippets that show it.

        `names` are the merchant's own names (trading and legal name): "Northline Coffee"
        on every page title says what the merchant declared, not what the site sells, so
        the words of a name are not read as keywords where the name stands.
        """
        runs = _name_runs(names)
        profile: dict[str, list[Snippet]] = {}
        # A product named in its page's title, heading and breadcrumb shows it once.
        counters: dict[str, MentionCounter] = defaultdict(MentionCounter)
        for snippet in snippets:
            if snippet.kind in NOT_BUSINESS_KINDS:
                continue
            tokens = _without_runs(snippet.tokens, runs) if runs else snippet.tokens
            mentions: dict[str, list[Mention]] = defaultdict(list)
            for sector_id, start, end in self.shown_at(tokens):
                if not self.sectors[sector_id].is_category:
                    matched = " ".join(tokens[start:end])
                    found = mention(tokens[:start], matched, tokens[end:], " ".join(tokens))
                    mentions[sector_id].append(found)
            for sector_id, found_here in mentions.items():
                if counters[sector_id].is_new(found_here):
                    profile.setdefault(sector_id, []).append(snippet)
        return profile


def merchant_names(merchant: MerchantRecord | None) -> list[str]:
    """The names a merchant trades under, as its record gives them."""
    if merchant is None:
        return []
    return [name for name in (merchant.dba, merchant.legal_name) if name]


def _name_runs(names: Sequence[str]) -> list[tuple[str, ...]]:
    """Each name as a run of canonical words, longest first (so "X Ltd" wins over "X")."""
    runs = {tuple(canonical_words(fold_for_match(name))) for name in names}
    return sorted((run for run in runs if run), key=lambda run: (-len(run), run))


def _without_runs(tokens: Sequence[str], runs: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    """The tokens with every occurrence of a run removed (a gap splits keywords apart)."""
    kept: list[str] = []
    start = 0
    while start < len(tokens):
        run = next((r for r in runs if tuple(tokens[start : start + len(r)]) == r), None)
        if run is None:
            kept.append(tokens[start])
            start += 1
        else:
            kept.append("\x00")  # keeps the words on either side from forming a keyword
            start += len(run)
    return tuple(kept)


@cache
def lexicon() -> Lexicon:
    """The shipped lexicon, read once."""
    text = resources.files("agent.offline").joinpath("sectors.yaml").read_text(encoding="utf-8")
    return Lexicon(yaml.safe_load(text))
