"""Fitting the snippet model from case-level labels (multiple-instance style).

A case's expected categories label its site, not its sentences. Each distinct snippet
text is labelled per category: positive when every case showing it is labelled with the
category, negative when none is, left out when both. A second round keeps as positives
only the snippets the first model ranks highest in each positive case (the planted
evidence), since most text of an embedded case is the ordinary shop's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from agent.assessor import AssessmentRequest
from agent.offline.model import UNCALIBRATED, FloatArray, SnippetModel
from agent.offline.modelscorer import SKIPPED_KINDS
from agent.offline.snippets import site_snippets
from evals.dataset import EvalCase
from evals.train.instances import case_evidence, instance_labels, load_evidence
from merchant_review.pages import PageSnapshot
from merchant_review.taxonomy import Category

MODELLED = tuple(c for c in Category if c is not Category.BUSINESS_MISMATCH)
TOP_PER_CASE = 2  # snippets kept as positives per positive case in the second round
KEEP_SCORE = 0.8  # ... and any other snippet the first model scores this high
REGULARISATION_C = 4.0
REFINE_ROUNDS = 2
POSITIVE_WEIGHT = 20.0
INSTANCE_POSITIVE_WEIGHT = 20.0  # instance labels: a few dozen evidence snippets per category


@dataclass(frozen=True)
class LabelledCase:
    """One case's distinct snippet texts (folded) and its expected categories."""

    case_id: str
    texts: tuple[str, ...]
    categories: frozenset[Category]
    # The annotated evidence (category, folded quote) and the texts that hold it
    # (evals/train/instances.py); empty when the dataset has no annotations.
    quotes: tuple[tuple[Category, str], ...] = ()
    evidence: Mapping[str, frozenset[Category]] = field(default_factory=dict)


def labelled_cases(
    dataset: Path, chosen: Sequence[EvalCase], requests: Mapping[str, AssessmentRequest]
) -> dict[str, LabelledCase]:
    """case id -> the chosen cases' snippet texts, categories and annotated evidence (the
    crawl of each case in `requests`; a case that was not crawled has no texts)."""
    evidence = load_evidence(dataset, [c.case_id for c in chosen])
    labelled = {}
    for case in chosen:
        request = requests.get(case.case_id)
        texts = case_texts(request.pages) if request is not None else ()
        quotes = tuple(evidence.get(case.case_id, ()))
        labelled[case.case_id] = LabelledCase(
            case.case_id,
            texts,
            frozenset(case.expected.categories),
            quotes,
            case_evidence(texts, quotes),
        )
    return labelled


def case_texts(pages: list[PageSnapshot]) -> tuple[str, ...]:
    """The distinct folded snippet texts the model would judge on this site.

    Pages in URL order: a concurrent crawl returns them in the order fetches finish, and
    the text order decides the vectorizer's vocabulary order, hence the artefact bytes.
    """
    snippets = site_snippets(sorted(pages, key=lambda page: page.url))
    return tuple(dict.fromkeys(s.folded for s in snippets if s.kind not in SKIPPED_KINDS))


def vectorizer() -> FeatureUnion:
    """Word uni/bigrams and character 3-5-grams (within words): typos, other languages."""
    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(3, 5), min_df=3, sublinear_tf=True,
                    max_features=30000,
                ),
            ),
        ]
    )  # fmt: skip


def _text_cases(cases: Sequence[LabelledCase]) -> dict[str, set[str]]:
    where: dict[str, set[str]] = defaultdict(set)
    for case in cases:
        for text in case.texts:
            where[text].add(case.case_id)
    return where


def _first_labels(
    cases: Sequence[LabelledCase], texts: list[str], category: Category
) -> dict[str, int]:
    labelled = {case.case_id: category in case.categories for case in cases}
    where = _text_cases(cases)
    labels = {}
    for text in texts:
        flags = {labelled[c] for c in where[text]}
        if len(flags) == 1:
            labels[text] = int(flags.pop())
    return labels


def _fit_one(
    matrix: object, rows: list[int], labels: list[int], positive_weight: float = POSITIVE_WEIGHT
) -> LogisticRegression:
    model = LogisticRegression(
        C=REGULARISATION_C,
        class_weight={0: 1.0, 1: positive_weight},
        solver="liblinear",
        max_iter=1000,
        random_state=0,  # liblinear shuffles the data: fixed, so retraining is byte-identical
    )
    model.fit(matrix[rows], labels)  # type: ignore[index]
    return model


def _vectorise(cases: Sequence[LabelledCase]) -> tuple[FeatureUnion, Any, dict[str, int]]:
    """The fitted vectorizer, the matrix of every distinct text, and each text's row."""
    texts = list(dict.fromkeys(t for case in cases for t in case.texts))
    features = vectorizer()
    matrix = features.fit_transform(texts)
    # (sklearn's per-process `_stop_words_id` is dropped by save_model, just before pickling)
    return features, matrix, {text: i for i, text in enumerate(texts)}


def _model(features: FeatureUnion, coefs: list[Any], intercepts: list[float]) -> SnippetModel:
    return SnippetModel(
        vectorizer=features,
        categories=MODELLED,
        coef=np.vstack(coefs).astype(np.float64),
        intercept=np.asarray(intercepts, dtype=np.float64),
        thresholds={c: 1.0 for c in MODELLED},
        calibration=UNCALIBRATED,
    )


def fit_model(cases: Sequence[LabelledCase]) -> SnippetModel:
    """Vectorizer and per-category weights from case-level labels (thresholds set later)."""
    features, matrix, index = _vectorise(cases)
    texts = list(index)
    coefs, intercepts = [], []
    for category in MODELLED:
        labels = _first_labels(cases, texts, category)
        rows = [index[t] for t in labels]
        model = _fit_one(matrix, rows, [labels[t] for t in labels])
        for _round in range(REFINE_ROUNDS):
            refined = _refine(cases, labels, model.predict_proba(matrix)[:, 1], index, category)
            model = _fit_one(matrix, [index[t] for t in refined], list(refined.values()))
        coefs.append(model.coef_[0])
        intercepts.append(model.intercept_[0])
    return _model(features, coefs, intercepts)


def fit_instance_model(
    cases: Sequence[LabelledCase], positive_weight: float = INSTANCE_POSITIVE_WEIGHT
) -> SnippetModel:
    """Per-category weights from the annotated evidence snippets (evals/train/instances.py).

    A category without an evidence snippet in these cases gets no weights and a very low
    intercept: it never scores.
    """
    features, matrix, index = _vectorise(cases)
    coefs, intercepts = [], []
    for category in MODELLED:
        labels = instance_labels(cases, category)
        if not any(labels.values()):
            coefs.append(np.zeros(matrix.shape[1]))
            intercepts.append(-20.0)
            continue
        rows = [index[t] for t in labels]
        model = _fit_one(matrix, rows, list(labels.values()), positive_weight)
        coefs.append(model.coef_[0])
        intercepts.append(model.intercept_[0])
    return _model(features, coefs, intercepts)


def _refine(
    cases: Sequence[LabelledCase],
    labels: Mapping[str, int],
    scores: FloatArray,
    index: Mapping[str, int],
    category: Category,
) -> dict[str, int]:
    """Negatives as before; positives only the best-ranked snippets of positive cases."""
    refined = {text: 0 for text, label in labels.items() if label == 0}
    for case in cases:
        if category not in case.categories:
            continue
        candidates = [t for t in case.texts if labels.get(t) == 1]
        ranked = sorted(candidates, key=lambda t: -scores[index[t]])
        for rank, text in enumerate(ranked):
            if rank < TOP_PER_CASE or scores[index[text]] >= KEEP_SCORE:
                refined[text] = 1
    return refined


def case_scores(model: SnippetModel, case: LabelledCase) -> dict[Category, float]:
    """The highest snippet score per category on one case's site."""
    if not case.texts:
        return {c: 0.0 for c in model.categories}
    scores = model.probabilities(list(case.texts)).max(axis=0)
    return {c: float(scores[i]) for i, c in enumerate(model.categories)}
