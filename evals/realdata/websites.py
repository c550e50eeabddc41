"""website-classification (Kaggle, hetulmehta): real site text with a site category.

Labels (see evals/DATASETS.md, "real-websites"):
- category Adult → reject [adult_content];
- fewer than MIN_WORDS words of text → escalate (nothing to judge);
- betting words ≥ BETTING_SITE share of the words (betting-tips / sportsbook-review sites)
  → request_info [gambling];
- betting words between BETTING_AMBIGUOUS and BETTING_SITE (sports news carrying betting
  tips or ads), or ≥ ADULT_WORDS adult words outside the Adult category (an art-nude photo
  magazine) → left out: the source cannot settle them either way;
- everything else → approve (legal publishers and services; news about drugs, guns or
  crime stays approve).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from evals.realdata.common import RealCase, clip, one_line, word_paragraphs
from merchant_review.taxonomy import Category, Decision

FILES = ("website_classification_partial.csv", "adult_rows_subset.csv")
TEXT_LIMIT = 15_000
MIN_WORDS = 25
BETTING_SITE = 0.05
BETTING_AMBIGUOUS = 0.01
MIN_BETTING_HITS = 8
ADULT_WORDS = 20
_BETTING = re.compile(
    r"\b(bet|betting|bets|odds|sportsbook|casino|wager|bookmaker|jackpot|poker|slots?|tipster|punter)\b"
)
_ADULT = re.compile(r"\b(porn|sex|nude|xxx|naked|erotic)\b")


def _rows(folder: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    rows: list[dict[str, str]] = []
    for name in FILES:
        with (folder / name).open(encoding="utf-8", newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def _url_key(url: str) -> str:
    return re.sub(r"^https?://(www\.)?", "", url.strip().lower()).rstrip("/")


def _unique(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """First row of each URL and of each text (the mirror repeats some sites)."""
    urls: set[str] = set()
    texts: set[str] = set()
    kept = []
    for row in rows:
        url, text = _url_key(row["website_url"]), row["cleaned_website_text"]
        if url not in urls and text not in texts:
            kept.append(row)
        urls.add(url)
        texts.add(text)
    return kept


def label(category: str, text: str) -> tuple[Decision, list[Category], str] | None:
    """The expected verdict of one row, with the reason; None for rows left out."""
    words = len(text.split())
    betting = len(_BETTING.findall(text))
    share = betting / max(words, 1)
    if category == "Adult":
        return Decision.REJECT, [Category.ADULT_CONTENT], "Source category Adult."
    if words < MIN_WORDS:
        return Decision.ESCALATE, [], f"Only {words} words of text: nothing to judge."
    if share >= BETTING_SITE:
        why = f"{betting} betting words ({share:.0%} of the text): a betting-tips/sportsbook site."
        return Decision.REQUEST_INFO, [Category.GAMBLING], why
    if betting >= MIN_BETTING_HITS and share >= BETTING_AMBIGUOUS:
        return None
    if len(_ADULT.findall(text)) >= ADULT_WORDS:
        return None
    return Decision.APPROVE, [], f"Source category {category}: a legal publisher or service."


def convert(folder: Path) -> tuple[list[RealCase], list[str]]:
    """(cases, source ids left out) for the website-classification folder."""
    cases, left_out = [], []
    for row in _unique(_rows(folder)):
        source_id = f"website-classification:{row['orig_index']} {row['website_url']}"
        text = clip(row["cleaned_website_text"], TEXT_LIMIT)
        labels = label(row["Category"], row["cleaned_website_text"])
        if labels is None:
            left_out.append(source_id)
            continue
        decision, categories, why = labels
        cases.append(
            RealCase(
                source_id,
                one_line(" ".join(text.split()[:8])),
                word_paragraphs(text),
                decision,
                categories,
                why,
            )
        )
    return cases, left_out
