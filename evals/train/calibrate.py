"""Choosing the snippet model's thresholds and fitting the confidence calibration.

Thresholds come from out-of-fold case scores on the TRAIN split: per category, the
lowest score at which the model's (case, category) calls are precise enough; a category
that never reaches it stays switched off (threshold 1.0). The calibration maps the
engine's raw confidence to P(decision correct) separately for each outcome the engine
proposes (a Platt fit with the slope held at 1 and a prior on the shift, on the
CALIBRATION split), stored as knots of monotone curves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.assessor import AssessmentRequest
from agent.decide import decide_outcome
from agent.offline import OfflineAssessor
from agent.offline.model import Calibration, OutcomeCalibration
from merchant_review.settings import Settings
from merchant_review.taxonomy import Category, Decision

GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)
MIN_PRECISION = 0.95  # out-of-fold (case, category) precision a threshold must reach
MIN_CALLS = 3  # ... on at least this many calls
KNOTS = 41
PRIOR_SD = 3.0  # prior sd of each outcome's logit shift (leave-one-out choice, evals/TRAINING.md)
EPSILON = 1e-3
# Instance-label model (evals/TRAINING.md round 5): thresholds from the CALIBRATION split.
# The grid starts at 0.8: at 0.5 the gambling model called two odd-half real-websites
# benign sites ("premier league champions"), which no threshold of 0.8 or more does.
INSTANCE_GRID = (0.8, 0.9, 0.95, 0.98, 0.99)


@dataclass(frozen=True)
class Outcome:
    """One case as the engine decides it: raw confidence, decision, and if it is right."""

    case_id: str
    raw_confidence: float
    decision: Decision
    categories: frozenset[Category]
    correct: bool


Calls = Sequence[tuple[frozenset[Category], dict[Category, float]]]


def _lowest_precise(
    calls: Calls, category: Category, grid: Sequence[float], min_right: int, min_calls: int
) -> float:
    """The lowest grid score whose calls for `category` are precise enough (>= min_calls
    calls, >= 1, and >= min_right of them right); 1.0 (off) when none is."""
    for threshold in grid:
        made = [category in expected for expected, s in calls if s[category] >= threshold]
        right = sum(made)
        if len(made) >= min_calls and right >= min_right and right / len(made) >= MIN_PRECISION:
            return threshold
    return 1.0


def choose_thresholds(oof: Calls, categories: Sequence[Category]) -> dict[Category, float]:
    """Per category: the lowest grid score whose out-of-fold calls are precise enough."""
    return {c: _lowest_precise(oof, c, GRID, 0, MIN_CALLS) for c in categories}


def choose_calibration_thresholds(
    calls: Calls, categories: Sequence[Category]
) -> dict[Category, float]:
    """Per category: the lowest INSTANCE_GRID score whose (case, category) calls on the
    CALIBRATION split are precise enough, with at least one right call; else off (1.0).

    A category the calibration split cannot show to be right at any score stays off.
    """
    return {c: _lowest_precise(calls, c, INSTANCE_GRID, 1, 1) for c in categories}


def case_call_table(
    calls: Sequence[tuple[frozenset[Category], dict[Category, float]]],
    categories: Sequence[Category],
    grid: Sequence[float] = GRID,
) -> list[dict[str, float]]:
    """Pooled (case, category) calls at each score: right, wrong, missed, precision, recall."""
    table = []
    for threshold in grid:
        tp = fp = fn = 0
        for expected, scores in calls:
            for category in categories:
                call, has = scores[category] >= threshold, category in expected
                tp, fp, fn = tp + (call and has), fp + (call and not has), fn + (has and not call)
        table.append(
            {
                "threshold": threshold,
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
                "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
            }
        )
    return table


def outcomes(
    assessor: OfflineAssessor,
    requests: dict[str, AssessmentRequest],
    expected: dict[str, tuple[Decision, frozenset[Category]]],
) -> list[Outcome]:
    """Run the engine on captured requests and apply the decision table as a review does."""
    settings = Settings()
    rows = []
    for case_id, request in requests.items():
        assessment = assessor.assess_pages(request)
        result = decide_outcome(assessment, assessment.findings, [], settings)
        want = expected[case_id]
        rows.append(
            Outcome(
                case_id,
                assessment.confidence,
                result.decision,
                frozenset(result.categories),
                result.decision is want[0],
            )
        )
    return rows


def _logit(p: float) -> float:
    p = min(max(p, EPSILON), 1 - EPSILON)
    return math.log(p / (1 - p))


def _shift(logits: Sequence[float], correct: Sequence[bool]) -> float:
    """The logit shift b maximising sum log P(correct | sigmoid(logit + b)) - b^2 / 2s^2.

    Platt scaling with the slope held at 1 and a Gaussian prior on the intercept: a few
    dozen cases cannot pin a slope, and an outcome whose cases were all right would push an
    unpenalised shift to infinity (confidence 1.0).
    """
    x = np.array(logits)
    y = np.array([float(c) for c in correct])
    b = 0.0
    for _ in range(100):  # Newton steps on a concave 1-D objective
        p = 1.0 / (1.0 + np.exp(-(x + b)))
        gradient = float(np.sum(y - p)) - b / PRIOR_SD**2
        curvature = float(np.sum(p * (1.0 - p))) + 1.0 / PRIOR_SD**2
        step = gradient / curvature
        b += step
        if abs(step) < 1e-9:
            break
    return b


def _curve(b: float, low: float, high: float) -> Calibration:
    """sigmoid(logit(raw) + b) inside [low, high], the raw range the fit saw; flat outside.

    Flat, not extrapolated: the raw confidence of an outcome measures different things on
    different kinds of site (a one-page site's approve confidence is low by design, yet
    such sites are not more often wrong), so the fit says nothing outside its data.
    """
    grid = np.linspace(0.0, 1.0, KNOTS)
    clipped = [min(max(float(g), low), high) for g in grid]
    mapped = [1.0 / (1.0 + math.exp(-(_logit(c) + b))) for c in clipped]
    return Calibration(tuple(round(float(g), 4) for g in grid), tuple(round(m, 4) for m in mapped))


def fit_calibration(rows: Sequence[Outcome]) -> tuple[OutcomeCalibration, dict[str, float]]:
    """Per outcome the engine proposes: a logit shift fit on that outcome's cases.

    Returns the calibration and each outcome's shift; an outcome with no case keeps its
    raw confidence (no curve).
    """
    curves, shifts = {}, {}
    for decision in Decision:
        own = [r for r in rows if r.decision is decision]
        if own:
            raw = [r.raw_confidence for r in own]
            b = _shift([_logit(x) for x in raw], [r.correct for r in own])
            shifts[decision.value] = round(b, 4)
            curves[decision.value] = _curve(b, min(raw), max(raw))
    return OutcomeCalibration(curves), shifts


def expected_calibration_error(pairs: Sequence[tuple[float, bool]], bins: int = 10) -> float:
    """ECE as evals/metrics.py computes it (equal-width bins)."""
    members: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for confidence, correct in pairs:
        members[min(math.floor(confidence * bins), bins - 1)].append((confidence, correct))
    total = sum(len(m) for m in members)
    gap = 0.0
    for rows in members:
        if rows:
            accuracy = sum(ok for _, ok in rows) / len(rows)
            mean = sum(c for c, _ in rows) / len(rows)
            gap += len(rows) / total * abs(accuracy - mean)
    return gap
