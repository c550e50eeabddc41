"""Train the offline engine's snippet model and calibration, reproducibly.

    python -m evals.train --dataset evals/datasets/dev --out models/

Crawls the TRAIN and CALIBRATION cases exactly as an eval does (the TEST split is never
read), fits the snippet model on TRAIN, picks its thresholds from out-of-fold TRAIN
scores, fits the confidence calibration on CALIBRATION, and writes the artefact plus a
JSON summary of what it measured (models/snippet-lr.json). Deterministic: the same data
gives the same weights (liblinear, no random state involved).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from agent.offline import OfflineAssessor
from agent.offline.model import IDENTITY, artefact_version, save_model
from agent.offline.modelscorer import ModelScorer
from evals.dataset import load_dataset
from evals.train.calibrate import (
    Outcome,
    choose_thresholds,
    expected_calibration_error,
    fit_calibration,
    outcomes,
)
from evals.train.capture import capture
from evals.train.fit import LabelledCase, case_scores, case_texts, fit_model

FOLDS = 3


def _summary(rows: list[Outcome], calibrated: list[float]) -> dict[str, float]:
    n = len(rows)
    correct = [r.correct for r in rows]
    raw = [(r.raw_confidence, r.correct) for r in rows]
    mapped = list(zip(calibrated, correct, strict=True))
    return {
        "cases": n,
        "decision_accuracy": round(sum(correct) / n, 4) if n else 0.0,
        "ece_raw": round(expected_calibration_error(raw), 4),
        "ece_calibrated": round(expected_calibration_error(mapped), 4),
    }


def main(
    dataset: Annotated[Path, typer.Option(help="a dataset folder with splits.json")] = Path(
        "evals/datasets/dev"
    ),
    out: Annotated[Path, typer.Option(help="folder for the artefact")] = Path("models"),
) -> None:
    """Fit on TRAIN, choose thresholds out-of-fold on TRAIN, calibrate on CALIBRATION."""
    data = load_dataset(dataset)
    chosen = [c for c in data.cases if data.splits.get(c.case_id) in {"train", "calibration"}]
    requests = capture(data, chosen)
    split = {c.case_id: data.splits[c.case_id] for c in chosen}
    expected = {c.case_id: (c.expected.decision, frozenset(c.expected.categories)) for c in chosen}
    labelled = {
        c.case_id: LabelledCase(
            c.case_id,
            case_texts(requests[c.case_id].pages) if c.case_id in requests else (),
            frozenset(c.expected.categories),
        )
        for c in chosen
    }
    train = [labelled[k] for k in sorted(labelled) if split[k] == "train"]
    oof = []
    for fold in range(FOLDS):
        held = [c for i, c in enumerate(train) if i % FOLDS == fold]
        model = fit_model([c for i, c in enumerate(train) if i % FOLDS != fold])
        oof += [(c.categories, case_scores(model, c)) for c in held]
    model = fit_model(train)
    model = replace(model, thresholds=choose_thresholds(oof, model.categories))
    calibration_requests = {k: r for k, r in requests.items() if split[k] == "calibration"}
    raw = outcomes(OfflineAssessor(ModelScorer(model)), calibration_requests, expected)
    fitted = fit_calibration(raw)
    calibrated = [fitted(r.raw_confidence) for r in raw]
    summary = _summary(raw, calibrated)
    # Ship the calibration only when it lowers ECE on the calibration split; otherwise
    # the identity (a Platt fit on 39 cases can also move confidences across the
    # approve bar, see evals/TRAINING.md).
    kept = summary["ece_calibrated"] < summary["ece_raw"]
    model = replace(model, calibration=fitted if kept else IDENTITY)
    path = save_model(model, out)
    report = {
        "version": artefact_version(path),
        "train_cases": len(train),
        "calibration_cases": len(calibration_requests),
        "thresholds": {c.value: t for c, t in model.thresholds.items()},
        "calibration": {**summary, "shipped": kept},
        "calibration_knots": {"x": list(fitted.x), "y": list(fitted.y)},
    }
    (out / "snippet-lr.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    typer.echo(json.dumps({k: v for k, v in report.items() if k != "calibration_knots"}, indent=1))


if __name__ == "__main__":
    typer.run(main)
