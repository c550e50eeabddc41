"""The trained snippet model: TF-IDF over snippet text, one logistic regression per category.

Trained by `python -m evals.train` on the dev set's TRAIN split (weak, case-level labels;
see evals/TRAINING.md) and saved to models/snippet-lr.joblib. Its version is the first
eight hex digits of the artefact's SHA-256, so the engine id a verdict records names the
exact weights that produced it. The artefact also holds the confidence calibration (one
curve per proposed outcome, fit on the CALIBRATION split) and the per-category score thresholds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt

from merchant_review.taxonomy import Category, Decision

MODEL_FILE = "snippet-lr.joblib"
FORMAT = 2  # 2: one calibration curve per proposed outcome (1: a single curve)
DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "models" / MODEL_FILE
FloatArray = npt.NDArray[np.float64]


class ModelError(Exception):
    """The artefact is missing or not a snippet model this code can use."""


@dataclass(frozen=True)
class Calibration:
    """A monotone map from the engine's raw confidence to P(decision correct).

    Stored as isotonic-regression knots; applied by linear interpolation between them,
    clipped at both ends, so it is monotone non-decreasing by construction.
    """

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, raw: float) -> float:
        if not self.x:
            return raw
        return round(float(np.interp(raw, self.x, self.y)), 3)


IDENTITY = Calibration((), ())


@dataclass(frozen=True)
class OutcomeCalibration:
    """One calibration curve per outcome the engine proposes (approve, reject, ...).

    A confidence means something different for each outcome: P(reject is right) and
    P(approve is right) err in opposite directions, so one curve over all outcomes cannot
    fit both. An outcome without a curve keeps its raw confidence.
    """

    curves: Mapping[str, Calibration] = field(default_factory=dict)

    def __call__(self, raw: float, outcome: Decision) -> float:
        return self.curves.get(outcome.value, IDENTITY)(raw)

    def payload(self) -> dict[str, dict[str, list[float]]]:
        return {k: {"x": list(c.x), "y": list(c.y)} for k, c in sorted(self.curves.items())}

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> OutcomeCalibration:
        if "x" in data:  # format 1: one curve for every outcome
            curve = Calibration(tuple(data["x"]), tuple(data["y"]))
            return cls({d.value: curve for d in Decision} if curve.x else {})
        return cls({k: Calibration(tuple(v["x"]), tuple(v["y"])) for k, v in data.items()})


UNCALIBRATED = OutcomeCalibration()


@dataclass(frozen=True)
class SnippetModel:
    """A fitted vectorizer with per-category linear weights and decision thresholds."""

    vectorizer: Any  # a fitted sklearn vectorizer (transform(list[str]) -> sparse matrix)
    categories: tuple[Category, ...]
    coef: FloatArray  # (categories, features)
    intercept: FloatArray  # (categories,)
    thresholds: dict[Category, float]  # a snippet at or above this is strong evidence
    calibration: OutcomeCalibration
    version: str = "unsaved"

    @property
    def active(self) -> list[tuple[int, Category, float]]:
        """(column, category, threshold) of the categories the model may call (below 1.0)."""
        return [
            (i, c, self.thresholds[c])
            for i, c in enumerate(self.categories)
            if self.thresholds.get(c, 1.0) < 1.0
        ]

    def probabilities(self, texts: list[str]) -> FloatArray:
        """P(category evidence) for each text (rows) and category (columns)."""
        if not texts:
            return np.zeros((0, len(self.categories)))
        features = self.vectorizer.transform(texts)
        logits = np.asarray(features @ self.coef.T) + self.intercept
        result: FloatArray = 1.0 / (1.0 + np.exp(-logits))
        return result

    def payload(self) -> dict[str, Any]:
        """What the artefact file holds (plain types and the fitted vectorizer)."""
        return {
            "format": FORMAT,
            "vectorizer": self.vectorizer,
            "categories": [c.value for c in self.categories],
            "coef": self.coef,
            "intercept": self.intercept,
            "thresholds": {c.value: t for c, t in self.thresholds.items()},
            "calibration": self.calibration.payload(),
        }


def save_model(model: SnippetModel, folder: Path) -> Path:
    """Write the artefact to `folder`; returns its path (its hash is the model version)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MODEL_FILE
    _drop_process_state(model.vectorizer)
    joblib.dump(model.payload(), path, compress=3)
    return path


def _drop_process_state(vectorizer: Any) -> None:
    """Remove what sklearn caches per process before the vectorizer is pickled.

    A word vectorizer that has transformed text keeps `_stop_words_id` (the memory address
    of its stop-word list, to skip a check next time); pickled, it changes the artefact's
    bytes, hence its version, on every run. sklearn sets it again when it needs it.
    """
    parts = [part for _, part in getattr(vectorizer, "transformer_list", [])] or [vectorizer]
    for part in parts:
        if hasattr(part, "_stop_words_id"):
            delattr(part, "_stop_words_id")


def artefact_version(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


def load_model(path: Path = DEFAULT_MODEL_PATH) -> SnippetModel:
    """Load a saved artefact; its version is the content hash of the file."""
    if not path.is_file():
        raise ModelError(f"no snippet model at {path}: run python -m evals.train")
    data = joblib.load(path)
    if not isinstance(data, dict) or data.get("format") not in {1, FORMAT}:
        raise ModelError(f"{path} is not a snippet model artefact (format 1 or {FORMAT})")
    return SnippetModel(
        vectorizer=data["vectorizer"],
        categories=tuple(Category(c) for c in data["categories"]),
        coef=np.asarray(data["coef"], dtype=np.float64),
        intercept=np.asarray(data["intercept"], dtype=np.float64),
        thresholds={Category(c): float(t) for c, t in data["thresholds"].items()},
        calibration=OutcomeCalibration.from_payload(data["calibration"]),
        version=artefact_version(path),
    )
