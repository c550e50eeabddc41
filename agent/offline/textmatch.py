"""Text folding and indicator compilation: how policy indicators meet page text.

Page text and indicators are both folded the same way (compatibility decomposition,
accents dropped, case folded, typographic dashes and quotes made plain), so "recéta"
matches "receta" and "E‑Liquid" matches "e-liquid". Folding is for matching only:
citations always quote the original text.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from typing import Generic, TypeVar

# Combining marks left by NFKD (accents, cedillas, umlauts) in the Latin-script ranges.
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_PLAIN = str.maketrans(
    {
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u02bc": "'",
        "\u201c": '"',
        "\u201d": '"',
    }
)
_WORD = re.compile(r"\w+")
_SEPARATOR = re.compile(r"[\s\-]+")
# Between the words of a phrase: any run of spaces or hyphens, or none ("e-liquid",
# "e liquid", "eliquid").
_JOIN = r"[\s\-]*"


def strip_accents(text: str) -> str:
    """NFKD-decomposed text without combining marks, with plain dashes and quotes."""
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text.translate(_PLAIN)))


def fold_for_match(text: str) -> str:
    """The form page text and phrases are compared in: accent-free and case-folded."""
    return strip_accents(text).casefold()


def words(folded: str) -> list[str]:
    return _WORD.findall(folded)


@lru_cache(maxsize=65536)
def canonical(token: str) -> str:
    """A crude singular, applied alike to text and keywords ("dresses" ~ "dress").

    It only has to map a word and its plural to the same key, not to a real singular:
    "movie" and "movies" both become "movy".
    """
    if len(token) > 3 and token.endswith("ie"):
        return token[:-2] + "y"
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 4 and token.endswith(("sses", "xes", "zes", "ches", "shes")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def phrase_pattern(phrase: str) -> str:
    """Regex source for a phrase indicator: word-bounded, flexible separators, plural."""
    folded = fold_for_match(phrase.strip())
    parts = [part for part in _SEPARATOR.split(folded) if part]
    body = _JOIN.join(re.escape(part) for part in parts)
    if parts and parts[-1][-1:].isalpha() and len(parts[-1]) >= 3:
        body += "(?:e?s)?"  # an optional plural, the commonest inflection in all four languages
    return rf"(?<!\w){body}(?!\w)"


def regex_pattern(source: str) -> str:
    """Regex source for a `re:` indicator, matched case-insensitively on folded text."""
    return f"(?i:{strip_accents(source)})"


def indicator_pattern(indicator: str) -> str:
    if indicator.startswith("re:"):
        return regex_pattern(indicator[3:])
    return phrase_pattern(indicator)


def phrase_keys(phrase: str) -> frozenset[str]:
    """Canonical words a snippet must contain for the phrase to possibly match.

    The longest word of the phrase, and all its words run together (text may write
    "eliquid" for "e-liquid"). Either is enough to try the phrase's pattern.
    """
    tokens = words(fold_for_match(phrase))
    if not tokens:
        return frozenset()
    keys = {canonical(max(tokens, key=len))}
    if len(tokens) > 1:
        keys.add(canonical("".join(tokens)))
    return frozenset(keys)


K = TypeVar("K")


class PhraseIndex(Generic[K]):
    """Items by the keys (`phrase_keys`) a text must contain for their phrase to match:
    only the candidates a snippet's keys name need their pattern tried."""

    def __init__(self) -> None:
        self._by_key: dict[str, list[K]] = defaultdict(list)
        self._rank: dict[K, int] = {}  # the order items were first added in

    def add(self, item: K, phrase: str) -> None:
        self._rank.setdefault(item, len(self._rank))
        for key in phrase_keys(phrase):
            self._by_key[key].append(item)

    def candidates(self, keys: Iterable[str]) -> list[K]:
        """The items whose phrase may stand in a text with these keys, in the order they
        were added. Not in a set's order: the keys are a snippet's words, a frozenset
        whose order follows string hashing (PYTHONHASHSEED), and so would the order in
        which the indicators met are listed (a finding's rationale, agent/offline)."""
        found = {item for key in keys for item in self._by_key.get(key, ())}
        return sorted(found, key=self._rank.__getitem__)


def canonical_words(folded: str) -> tuple[str, ...]:
    """The canonical words of folded text, in order: what keys and keywords are looked up in."""
    return tuple(map(canonical, words(folded)))


def any_of(patterns: Iterable[str]) -> str:
    return "|".join(f"(?:{pattern})" for pattern in patterns)
