"""Cheap gates for `re:` indicators: literals that every match must contain.

Running some fifty patterns over every page costs more than the rest of the engine. Most
patterns need a literal word ("thc", "mg", "replica"); when none of a pattern's required
literals stands in a page (a plain substring test), the pattern cannot match there and is
skipped. The literals come from Python's own regex parser, so a gate is never wrong: when
the analysis finds nothing certain, the pattern simply runs ungated.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

# Python's regex parser and its node types: private modules, stable within a minor
# version. Typed as Any (typeshed has no stubs for them); any surprise only ungates.
sre_parse: Any = importlib.import_module("re._parser")
sre: Any = importlib.import_module("re._constants")

MIN_LITERAL = 2
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_GROUPS = (sre.SUBPATTERN, sre.ATOMIC_GROUP)


def required_literals(pattern: str) -> frozenset[str] | None:
    """Case-folded strings one of which every match of `pattern` contains, or None."""
    try:
        return _sequence(list(sre_parse.parse(pattern)))
    except (re.error, TypeError, ValueError, AttributeError, IndexError):
        return None


def _sequence(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """The best requirement of a sequence: a literal run, or a required group's."""
    candidates: list[frozenset[str]] = []
    run: list[str] = []
    for op, argument in items:
        if op is sre.LITERAL:
            run.append(chr(argument).casefold())
            continue
        if len(run) >= MIN_LITERAL:
            candidates.append(frozenset({"".join(run)}))
        run = []
        required = _node(op, argument)
        if required:
            candidates.append(required)
    if len(run) >= MIN_LITERAL:
        candidates.append(frozenset({"".join(run)}))
    return max(candidates, key=_quality, default=None)


def _node(op: Any, argument: Any) -> frozenset[str] | None:
    if op in _GROUPS:
        return _sequence(list(argument[-1]))
    if op is sre.BRANCH:
        return _branch(argument[1])
    if op in _REPEATS and argument[0] >= 1:
        return _sequence(list(argument[2]))
    return None


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


def may_match(literals: frozenset[str] | None, text: str) -> bool:
    """False only when the pattern certainly cannot match `text` (already case-folded)."""
    return literals is None or any(literal in text for literal in literals)
