"""Choosing the snippet model's thresholds and fitting the confidence calibration.

Thresholds come from out-of-fold case scores on the TRAIN split: per category, the
lowest score at which the model's (case, category) calls are precise enough; a category
that never reaches it stays switched off (threshold 1.0). The calibration is a Platt
(logistic) fit on the CALIBRATION split mapping the engine's raw confidence to
P(decision correct), stored as knots of a monotone curve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from agent.assessor import AssessmentRequest
from agent.decide import decide_outcome
from agent.offline import OfflineAssessor
from agent.offline.model import Calibration
from merchant_review.settings import Settings
from merchant_review.taxonomy import Category, Decision

GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)
MIN_PRECISION = 0.95  # out-of-fold (case, category) precision a threshold must reach
MIN_CALLS = 3  # ... on at least this many calls
KNOTS = 41
EPSILON = 1e-3


@dataclass(frozen=True)
class Outcome:
    """One case as the engine decides it: raw confidence, decision, and if it is right."""

    case_id: str
    raw_confidence: float
    decision: Decision
    categories: frozenset[Category]
    correct: bool


def choose_thresholds(
    oof: Sequence[tuple[frozenset[Category], dict[Category, float]]],
    categories: Sequence[Category],
) -> dict[Category, float]:
    """Per category: the lowest grid score whose out-of-fold calls are precise enough."""
    chosen = {}
    for category in categories:
        chosen[category] = 1.0
        for threshold in GRID:
            calls = [category in expected for expected, s in oof if s[category] >= threshold]
            if len(calls) >= MIN_CALLS and sum(calls) / len(calls) >= MIN_PRECISION:
                chosen[category] = threshold
                break
    return chosen


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


def fit_calibration(rows: Sequence[Outcome]) -> Calibration:
    """Platt scaling of the raw confidence, as knots of a monotone curve."""
    x = np.array([[_logit(r.raw_confidence)] for r in rows])
    y = np.array([int(r.correct) for r in rows])
    if len(set(y.tolist())) < 2:
        return Calibration((0.0, 1.0), (float(y.mean()), float(y.mean())))
    platt = LogisticRegression(C=1.0)
    platt.fit(x, y)
    grid = np.linspace(0.0, 1.0, KNOTS)
    mapped = platt.predict_proba(np.array([[_logit(g)] for g in grid]))[:, 1]
    mapped = np.maximum.accumulate(mapped)  # monotone even if the slope came out negative
    return Calibration(
        tuple(round(float(g), 4) for g in grid), tuple(round(float(m), 4) for m in mapped)
    )


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
