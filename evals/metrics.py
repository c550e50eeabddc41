"""Scorers: pure functions from a list of `CaseResult` to numbers (no I/O, no state).

Conventions, chosen once and used everywhere:

* A failed case (`CaseResult.failed`) counts as wrong. Its decision never matches. In the
  binary scores (reject, flag) it is scored as the wrong side of its expected label: a miss
  (false negative) when the expected decision is positive, a false alarm (false positive)
  when it is negative, so failures can never improve precision or recall. It predicts no
  categories, and in calibration it is a wrong answer at whatever confidence it reported
  (a case with no confidence at all is left out of ECE and Brier).
* Precision with nothing predicted, or recall with nothing expected, is 1.0 when both sides
  are empty (nothing to find, nothing claimed) and 0.0 otherwise; F1 follows (1.0 only when
  both sides are empty).
* Citation validity with nothing cited is 1.0 (no quote stands wrong); the report also
  carries the count of citations so an empty denominator is visible.
* Percentiles interpolate linearly between order statistics (numpy's default); an empty
  list scores 0.0, as does every rate over zero cases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evals.results import ERROR_LABEL, CaseResult
from merchant_review.taxonomy import Category, Decision

Cases = Sequence[CaseResult]

FLAGGED: frozenset[str] = frozenset({Decision.REJECT, Decision.REQUEST_INFO, Decision.ESCALATE})
"""Decisions that are "not approve"."""
REJECTED: frozenset[str] = frozenset({Decision.REJECT})
DECISION_LABELS: tuple[str, ...] = tuple(str(d) for d in Decision)
PREDICTED_LABELS: tuple[str, ...] = (*DECISION_LABELS, ERROR_LABEL)
CALIBRATION_BINS = 10
NO_VALUE = "(none)"


@dataclass(frozen=True)
class Counts:
    """True positives, false positives and false negatives, with the scores they give."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp, both_empty=self.tp + self.fn == 0)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn, both_empty=self.tp + self.fp == 0)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn, both_empty=True)

    @property
    def support(self) -> int:
        """How many positives were expected."""
        return self.tp + self.fn

    def scores(self) -> dict[str, float | int]:
        """Precision, recall, F1 and support, plus the raw counts."""
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def _ratio(numerator: int, denominator: int, *, both_empty: bool) -> float:
    if denominator == 0:
        return 1.0 if both_empty else 0.0
    return numerator / denominator


def _rate(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def decision_accuracy(cases: Cases) -> float:
    """Share of cases whose decision equals the expected one (failed cases are wrong)."""
    return _rate(sum(case.correct for case in cases), len(cases))


def _binary(case: CaseResult, positive: frozenset[str]) -> Counts:
    expected = case.expected_decision in positive
    if case.failed:
        return Counts(fn=1) if expected else Counts(fp=1)
    predicted = case.decision in positive
    return Counts(
        tp=int(expected and predicted),
        fp=int(predicted and not expected),
        fn=int(expected and not predicted),
    )


def binary_counts(cases: Cases, positive: frozenset[str]) -> Counts:
    """Counts for "decision in `positive`" against the same split of the expected decision."""
    return sum((_binary(case, positive) for case in cases), Counts())


def reject_counts(cases: Cases) -> Counts:
    """Counts for the decision `reject`."""
    return binary_counts(cases, REJECTED)


def flag_counts(cases: Cases) -> Counts:
    """Counts for "not approve" (reject, request_info, escalate)."""
    return binary_counts(cases, FLAGGED)


def case_category_counts(case: CaseResult, only: str | None = None) -> Counts:
    """One case's (case, category) pairs; `only` restricts them to one category."""
    expected = {str(c) for c in case.expected_categories}
    predicted = case.scored_categories
    if only is not None:
        expected, predicted = expected & {only}, predicted & {only}
    return Counts(len(expected & predicted), len(predicted - expected), len(expected - predicted))


def category_counts(cases: Cases) -> Counts:
    """Micro-averaged counts over (case, category) pairs."""
    return sum((case_category_counts(case) for case in cases), Counts())


def per_category(cases: Cases) -> dict[str, dict[str, float | int]]:
    """Scores for each category expected or predicted somewhere, in taxonomy order."""
    seen = {str(c) for case in cases for c in case.expected_categories}
    seen |= {c for case in cases for c in case.scored_categories}
    ordered = [str(c) for c in Category if str(c) in seen] + sorted(seen - set(Category))
    return {
        name: sum((case_category_counts(case, name) for case in cases), Counts()).scores()
        for name in ordered
    }


def citation_counts(cases: Cases) -> tuple[int, int]:
    """(valid cited quotes, all cited quotes) over every case."""
    cited = [citation for case in cases for citation in case.citations]
    return sum(bool(c.get("valid", False)) for c in cited), len(cited)


def citation_validity(cases: Cases) -> float:
    """Share of cited quotes that stand verbatim; 1.0 when nothing was cited."""
    valid, total = citation_counts(cases)
    return valid / total if total else 1.0


def _calibrated(cases: Cases) -> list[tuple[float, bool]]:
    return [(c.confidence, c.correct) for c in cases if c.confidence is not None]


def _bin_of(confidence: float, bins: int) -> int:
    return min(math.floor(confidence * bins), bins - 1)


def reliability(cases: Cases, bins: int = CALIBRATION_BINS) -> list[dict[str, Any]]:
    """Equal-width confidence bins: range, count, mean confidence and accuracy (None if empty).

    The last bin is closed on the right, so a confidence of 1.0 falls in it.
    """
    members: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for confidence, correct in _calibrated(cases):
        members[_bin_of(confidence, bins)].append((confidence, correct))
    return [_bin_row(index, bins, rows) for index, rows in enumerate(members)]


def _bin_row(index: int, bins: int, rows: list[tuple[float, bool]]) -> dict[str, Any]:
    count = len(rows)
    return {
        "lower": index / bins,
        "upper": (index + 1) / bins,
        "count": count,
        "mean_confidence": sum(c for c, _ in rows) / count if count else None,
        "accuracy": sum(ok for _, ok in rows) / count if count else None,
    }


def ece(cases: Cases, bins: int = CALIBRATION_BINS) -> float:
    """Expected calibration error: sum over bins of (share of cases) × |accuracy − confidence|."""
    table = reliability(cases, bins)
    total = sum(row["count"] for row in table)
    if total == 0:
        return 0.0
    gaps = (
        row["count"] / total * abs(row["accuracy"] - row["mean_confidence"])
        for row in table
        if row["count"]
    )
    return float(sum(gaps))


def brier(cases: Cases) -> float:
    """Mean squared gap between confidence and correctness (1 or 0)."""
    pairs = _calibrated(cases)
    return _mean([(confidence - float(correct)) ** 2 for confidence, correct in pairs])


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation; 0.0 for no values."""
    data = list(values)
    return float(np.percentile(data, q)) if data else 0.0


def seconds_p50(cases: Cases) -> float:
    """Median wall time per case."""
    return percentile((case.seconds for case in cases), 50)


def seconds_p95(cases: Cases) -> float:
    """95th percentile of wall time per case."""
    return percentile((case.seconds for case in cases), 95)


def llm_calls(cases: Cases) -> int:
    """Total model calls."""
    return sum(case.llm_calls for case in cases)


def tokens(cases: Cases) -> int:
    """Total tokens (prompt and completion)."""
    return sum(case.tokens for case in cases)


def cost(cases: Cases) -> dict[str, Any]:
    """Tokens and estimated dollars per review (cost None when a model has no price)."""
    count = len(cases)
    prices = [case.cost_usd for case in cases]
    known = None if any(p is None for p in prices) else sum(p or 0.0 for p in prices)
    return {
        "prompt_tokens": sum(case.prompt_tokens for case in cases),
        "completion_tokens": sum(case.completion_tokens for case in cases),
        "tokens_per_review": sum(case.tokens for case in cases) / count if count else 0.0,
        "cost_usd": known,
        "cost_usd_per_review": known / count if known is not None and count else None,
    }


def model_share(cases: Cases) -> float:
    """Share of cases that were sent to the model (cascade runs)."""
    return _rate(sum(case.sent_to_model for case in cases), len(cases))


def confusion_matrix(cases: Cases) -> dict[str, dict[str, int]]:
    """Expected decision → predicted decision (or `error`) → count, every cell present."""
    matrix = {row: dict.fromkeys(PREDICTED_LABELS, 0) for row in DECISION_LABELS}
    for case in cases:
        matrix[str(case.expected_decision)][case.shown_decision] += 1
    return matrix


def _language(case: CaseResult) -> str:
    return case.language or NO_VALUE


def _tag_key(tag: str) -> Callable[[CaseResult], str]:
    return lambda case: case.tags.get(tag) or NO_VALUE


def _groupings(cases: Cases) -> dict[str, Callable[[CaseResult], str]]:
    keys: dict[str, Callable[[CaseResult], str]] = {}
    if any(case.language for case in cases):
        keys["language"] = _language
    for tag in sorted({tag for case in cases for tag, value in case.tags.items() if value}):
        keys[tag] = _tag_key(tag)
    return keys


def group_scores(cases: Cases) -> dict[str, float | int | None]:
    """The headline scores of one group of cases (for breakdowns).

    A flag score the group cannot have is None, not 0 or 1: a group of lookalikes (all
    expected approve) has no flag recall, and its one flagged case is its accuracy's miss.
    """
    flags, categories = flag_counts(cases), category_counts(cases)
    return {
        "cases": len(cases),
        "decision_accuracy": decision_accuracy(cases),
        "flag_precision": flags.precision if flags.tp + flags.fp else None,
        "flag_recall": flags.recall if flags.tp + flags.fn else None,
        "category_f1": categories.f1,
    }


def breakdowns(cases: Cases) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """Headline scores per language and per tag value (tags with only empty values skipped)."""
    result: dict[str, dict[str, dict[str, float | int | None]]] = {}
    for name, key in _groupings(cases).items():
        groups: dict[str, list[CaseResult]] = {}
        for case in cases:
            groups.setdefault(key(case), []).append(case)
        result[name] = {value: group_scores(groups[value]) for value in sorted(groups)}
    return result
