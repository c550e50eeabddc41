"""Telling a new mention from a repeated one.

The same words around the same match (a headline shown three times, a product name in the
title, the heading and the breadcrumb of its page) are one mention, not three pieces of
evidence. A mention is known by its match with the words just before it and by its match
with the words just after it: sharing either with an earlier mention makes it a repeat, so
a repeat cut at another place (the end of a snippet, a prefix) is still recognised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

MENTION_WORDS = 2  # words beside a match that identify one mention

Mention = tuple[str, ...]  # the keys of one occurrence of a match


def mention(before: Sequence[str], matched: str, after: Sequence[str], fallback: str) -> Mention:
    """The keys of one occurrence; `fallback` (e.g. the whole text) when no side is long."""
    keys = []
    if len(before) >= MENTION_WORDS:
        keys.append(" ".join([*before[-MENTION_WORDS:], matched]))
    if len(after) >= MENTION_WORDS:
        keys.append(" ".join([matched, *after[:MENTION_WORDS]]))
    return tuple(keys) or (f"{matched}\x00{fallback}",)


class MentionCounter:
    """Counts the pieces of text that mention something in words of their own."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def is_new(self, mentions: Iterable[Mention]) -> bool:
        """Whether one of these occurrences shares no key with an earlier one; remembers them."""
        occurrences = list(mentions)
        new = any(not self.seen.intersection(keys) for keys in occurrences)
        for keys in occurrences:
            self.seen.update(keys)
        return new
