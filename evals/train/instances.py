"""Instance labels for the snippet model: the dataset's annotated evidence sentences.

`annotations.jsonl` names, per case, the exact sentences its label rests on (category and
quote). A snippet is evidence for a category when it holds such a quote, or is a piece of
one (a product card's name line, a long quote cut at a sentence end). Per category:
positives are the evidence snippets; negatives are the snippets of sites that do not have
the category (clean and lookalike sites are the hard negatives); the other snippets of a
site that has the category are left out (its shop may sell more of the same than the
annotator quoted).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agent.offline.textmatch import fold_for_match
from merchant_review.taxonomy import Category

if TYPE_CHECKING:
    from evals.train.fit import LabelledCase

ANNOTATIONS = "annotations.jsonl"
# A piece of a quote counts only with some substance: not "Tablets" or a price alone.
MIN_PIECE_WORDS, MIN_PIECE_CHARS = 2, 8
_WORD = re.compile(r"\w+")
_PUNCTUATION = frozenset(".,:;!?()[]\"'|-–—")


def load_evidence(dataset: Path, case_ids: Iterable[str]) -> dict[str, list[tuple[Category, str]]]:
    """case id -> (category, folded quote) of its annotated evidence, for these cases only."""
    wanted = set(case_ids)
    evidence: dict[str, list[tuple[Category, str]]] = {}
    path = dataset / ANNOTATIONS
    if not path.is_file():
        return evidence
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row["case_id"] not in wanted:
            continue  # never even parsed into the result: the test split stays unread
        evidence[row["case_id"]] = [
            (Category(item["category"]), fold_for_match(item["quote"]))
            for item in row.get("evidence") or []
            if item.get("category") in Category._value2member_map_
        ]
    return evidence


def holds_quote(text: str, quote: str) -> bool:
    """Whether a folded snippet text holds the folded quote or is one of its parts.

    A part is a run of the quote between its punctuation (a product card's name line
    "cigar cutter" of "cigar cutter: double guillotine..."), not any words inside it
    ("in stock" of "...parts kits in stock.").
    """
    if quote in text:
        return True
    if len(text) < MIN_PIECE_CHARS or len(_WORD.findall(text)) < MIN_PIECE_WORDS:
        return False
    start = quote.find(text)
    while start >= 0:
        end = start + len(text)
        before = text[0] in _PUNCTUATION or _boundary_before(quote, start)
        if before and (text[-1] in _PUNCTUATION or _boundary_after(quote, end)):
            return True
        start = quote.find(text, start + 1)
    return False


def _boundary_before(quote: str, start: int) -> bool:
    return start == 0 or quote[:start].rstrip()[-1:] in _PUNCTUATION


def _boundary_after(quote: str, end: int) -> bool:
    return end == len(quote) or quote[end:].lstrip()[:1] in _PUNCTUATION


def case_evidence(
    texts: Sequence[str], quotes: Sequence[tuple[Category, str]]
) -> dict[str, frozenset[Category]]:
    """text -> the categories whose annotated quote it holds (texts that hold none left out)."""
    found: dict[str, set[Category]] = {}
    for text in texts:
        for category, quote in quotes:
            if holds_quote(text, quote):
                found.setdefault(text, set()).add(category)
    return {text: frozenset(categories) for text, categories in found.items()}


def instance_labels(cases: Sequence[LabelledCase], category: Category) -> dict[str, int]:
    """Distinct text -> 1 (evidence for the category) or 0 (a site without it)."""
    labels: dict[str, int] = {}
    for case in cases:
        for text, categories in case.evidence.items():
            if category in categories:
                labels[text] = 1
    for case in cases:
        if category in case.categories:
            continue
        for text in case.texts:
            labels.setdefault(text, 0)
    return labels


def evidence_coverage(cases: Sequence[LabelledCase]) -> Mapping[str, int]:
    """How many cases have a quote, and how many of those have a snippet that holds one."""
    with_quotes = [case for case in cases if case.quotes]
    return {
        "cases_with_evidence": len(with_quotes),
        "cases_with_evidence_snippet": sum(bool(case.evidence) for case in with_quotes),
    }
