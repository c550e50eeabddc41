"""Shared pieces of the real-data converters: one-page sites, records, capping, writing."""

from __future__ import annotations

import html
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.generate.writer import write_dataset
from merchant_review.taxonomy import Category, Decision, decide

REAL_SEED = 20261128
MAX_CASES = 600
_WS = re.compile(r"\s+")


@dataclass
class RealCase:
    """One converted document: page text, labels, and where it came from."""

    source_id: str
    title: str
    paragraphs: list[str]
    decision: Decision
    categories: list[Category] = field(default_factory=list)
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        escalate = self.decision is Decision.ESCALATE
        if decide(self.categories, insufficient_evidence=escalate) is not self.decision:
            raise ValueError(f"{self.source_id}: {self.decision} contradicts {self.categories}")


def clip(text: str, limit: int, *, at: str = " ") -> str:
    """The text cut to at most `limit` characters, at the last `at` before the limit."""
    if len(text) <= limit:
        return text
    cut = text.rfind(at, 0, limit)
    return text[: cut if cut > limit // 2 else limit]


def word_paragraphs(text: str, size: int = 80) -> list[str]:
    """Unpunctuated text split into paragraphs of `size` words."""
    words = text.split()
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def block_paragraphs(text: str) -> list[str]:
    """Text split at blank lines; each block keeps its line breaks ('\\n')."""
    blocks = re.split(r"\n\s*\n", text)
    cleaned = ["\n".join(line.rstrip() for line in b.strip("\n").splitlines()) for b in blocks]
    return [b for b in cleaned if b.strip()]


def one_line(text: str, limit: int = 80) -> str:
    """Whitespace folded and clipped, for titles."""
    return clip(_WS.sub(" ", text).strip(), limit)


def page(title: str, paragraphs: list[str]) -> str:
    """A simple HTML page: the title and the escaped paragraphs (line breaks kept)."""
    body = "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            "</head>",
            "<body>",
            "<main>",
            f"<h1>{html.escape(title)}</h1>",
            body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


def capped(cases: list[RealCase], seed: int, limit: int = MAX_CASES) -> list[RealCase]:
    """All cases in a seeded random order, at most `limit` of them."""
    shuffled = list(cases)
    random.Random(seed).shuffle(shuffled)
    return shuffled[:limit]


def write_real(folder: Path, prefix: str, cases: list[RealCase], notice: str) -> dict[str, Any]:
    """Write a real dataset: case ids PREFIX-0001..., sites served as https://real-N.example/,
    and SOURCE.md (provenance and licence, `notice`)."""
    lines, sites = [], {}
    for n, case in enumerate(cases, start=1):
        case_id = f"{prefix}-{n:04d}"
        merchant = {"merchant_id": f"acct_{case_id}", "website": f"https://real-{n}.example/"}
        lines.append(
            {
                "case_id": case_id,
                "merchant": merchant | case.extra,
                "expected": {
                    "decision": case.decision.value,
                    "categories": sorted(c.value for c in case.categories),
                },
                "notes": f"[{case.source_id}] {case.notes}",
            }
        )
        sites[case_id] = {"index.html": page(case.title, case.paragraphs)}
    write_dataset(folder, lines, sites, {"SOURCE.md": notice})
    return _stats(lines)


def _stats(lines: list[dict[str, Any]]) -> dict[str, Any]:
    decisions: dict[str, int] = {}
    categories: dict[str, int] = {}
    for line in lines:
        exp = line["expected"]
        decisions[exp["decision"]] = decisions.get(exp["decision"], 0) + 1
        for cat in exp["categories"]:
            categories[cat] = categories.get(cat, 0) + 1
    return {
        "cases": len(lines),
        "decisions": dict(sorted(decisions.items())),
        "categories": dict(sorted(categories.items())),
    }
