"""Cheap gates for `re:` indicators: literals that every match must contain.

Running some fifty patterns over every page costs more than the rest of the engine. Most
patterns need a literal word ("thc", "mg", "replica"); when none of a pattern's required
literals stands in a page (a plain substring test), the pattern cannot match there and is
skipped. The literals come from Python's own regex parser, so a gate is never wrong: when
the analysis finds nothing certain, the pattern simply runs ungated.

With hundreds of patterns (four languages), testing each literal of each pattern against
a page cost more than running the few patterns that pass: `GateScan` finds every
pattern's literals in one Aho-Corasick pass over the page instead, and a pattern runs only
when every requirement of it (`pattern_gate`) has a literal on the page.
"""

from __future__ import annotations

import importlib
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import ahocorasick

# Python's regex parser and its node types: private modules, stable within a minor
# version. Typed as Any (typeshed has no stubs for them); any surprise only ungates.
sre_parse: Any = importlib.import_module("re._parser")
sre: Any = importlib.import_module("re._constants")

MIN_LITERAL = 2
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_GROUPS = (sre.SUBPATTERN, sre.ATOMIC_GROUP)


Gate = tuple[frozenset[str], ...]  # every set must have a literal in the text; () = ungated


def pattern_gate(pattern: str) -> Gate:
    """Every requirement of `pattern`'s top-level sequence: a match contains a literal of
    each set. More sets, a sharper gate: "returns of 30% after 24 hours" needs "return"
    (or "profit", "roi") and "day" (or "hour"), not only the latter."""
    try:
        return tuple(_requirements(list(sre_parse.parse(pattern))))
    except (re.error, TypeError, ValueError, AttributeError, IndexError):
        return ()


def _sequence(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """The best requirement of a sequence: a literal run, or a required group's."""
    return max(_requirements(items), key=_quality, default=None)


def _requirements(items: list[tuple[Any, Any]]) -> list[frozenset[str]]:
    """Every requirement of a sequence: its literal runs, every requirement of the groups
    it must contain (a group, or a repeat of at least one), and one per alternation."""
    candidates: list[frozenset[str]] = []
    run: list[str] = []
    for op, argument in items:
        if op is sre.LITERAL:
            run.append(chr(argument).casefold())
            continue
        if len(run) >= MIN_LITERAL:
            candidates.append(frozenset({"".join(run)}))
        run = []
        if op in _GROUPS:
            candidates.extend(_requirements(list(argument[-1])))
        elif op in _REPEATS and argument[0] >= 1:
            candidates.extend(_requirements(list(argument[2])))
        elif op is sre.BRANCH and (union := _branch(argument[1])):
            candidates.append(union)
    if len(run) >= MIN_LITERAL:
        candidates.append(frozenset({"".join(run)}))
    return candidates


def _branch(alternatives: list[Any]) -> frozenset[str] | None:
    """Any alternative's requirement will do, but only if every alternative has one."""
    union: set[str] = set()
    for alternative in alternatives:
        required = _sequence(list(alternative))
        if not required:
            return None
        union |= required
    return frozenset(union)


def _quality(literals: frozenset[str]) -> tuple[int, int]:
    # Prefer long literals (rarer in text), then fewer alternatives.
    return min(len(literal) for literal in literals), -len(literals)


class GateScan:
    """Which of a set of gated patterns may match a text, found in one pass over it.

    `gates[i]` is pattern i's gate (`pattern_gate`; () = ungated, always a candidate).
    Pattern i is a candidate when each of its literal sets has a member that stands in the
    text as a substring: every occurrence of every literal is reported (overlapping ones
    too), so none is missed.
    """

    def __init__(self, gates: Sequence[Gate]) -> None:
        self._gates = tuple(gates)
        self._always = frozenset(i for i, gate in enumerate(gates) if not gate)
        by_literal: dict[str, set[int]] = defaultdict(set)
        for number, gate in enumerate(gates):
            for literals in gate:
                for literal in literals:
                    by_literal[literal].add(number)
        self._automaton: Any = ahocorasick.Automaton()
        for literal, numbers in by_literal.items():
            self._automaton.add_word(literal, (literal, tuple(sorted(numbers))))
        if by_literal:
            self._automaton.make_automaton()
        self._empty = not by_literal

    def candidates(self, text: str) -> list[int]:
        """The patterns that may match `text` (already case-folded), in order."""
        found = set(self._always)
        if self._empty:
            return sorted(found)
        seen: set[str] = set()
        touched: set[int] = set()
        for _end, (literal, numbers) in self._automaton.iter(text):
            if literal not in seen:
                seen.add(literal)
                touched.update(numbers)
        found.update(n for n in touched if all(not s.isdisjoint(seen) for s in self._gates[n]))
        return sorted(found)
