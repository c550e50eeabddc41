"""Instance labels for the snippet model (evals/train/instances.py) and the thresholds
chosen on the calibration split (evals/train/calibrate.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from evals.train.calibrate import INSTANCE_GRID, choose_calibration_thresholds
from evals.train.fit import MODELLED, LabelledCase, case_scores, fit_instance_model
from evals.train.instances import (
    case_evidence,
    holds_quote,
    instance_labels,
    load_evidence,
)
from merchant_review.taxonomy import Category

QUOTE = "cigar cutter: double guillotine, stainless steel. parts kits in stock."


def test_a_snippet_holding_the_quote_or_one_of_its_parts_is_evidence() -> None:
    assert holds_quote("new! " + QUOTE + " order now", QUOTE)
    assert holds_quote("cigar cutter", QUOTE)
    assert holds_quote("double guillotine, stainless steel.", QUOTE)


def test_words_inside_a_quote_are_not_a_part_of_it() -> None:
    assert not holds_quote("in stock", QUOTE)  # inside a clause: "parts kits in stock"
    assert not holds_quote("gar cutter", QUOTE)
    assert not holds_quote("steel", QUOTE)  # one word is too little to be evidence
    assert not holds_quote("pipe cutter", QUOTE)


def test_case_evidence_names_the_quotes_category() -> None:
    quotes = [(Category.TOBACCO_VAPING, QUOTE)]
    found = case_evidence(("cigar cutter", "in stock", "about us"), quotes)
    assert found == {"cigar cutter": frozenset({Category.TOBACCO_VAPING})}


def _case(
    cid: str, texts: tuple[str, ...], cats: set[Category], ev: dict[str, Category]
) -> LabelledCase:
    return LabelledCase(
        cid,
        texts,
        frozenset(cats),
        tuple((c, t) for t, c in ev.items()),
        {t: frozenset({c}) for t, c in ev.items()},
    )


def test_labels_leave_out_the_unquoted_text_of_a_site_with_the_category() -> None:
    risky = _case("a", ("thc gummies 500 mg", "gelato flower"), {Category.ILLEGAL_DRUGS},
                  {"thc gummies 500 mg": Category.ILLEGAL_DRUGS})  # fmt: skip
    clean = _case("b", ("gelato ice cream", "free shipping"), set(), {})
    labels = instance_labels([risky, clean], Category.ILLEGAL_DRUGS)
    assert labels == {"thc gummies 500 mg": 1, "gelato ice cream": 0, "free shipping": 0}
    # For another category the risky site's every text is a negative.
    assert set(instance_labels([risky, clean], Category.WEAPONS).values()) == {0}
    assert len(instance_labels([risky, clean], Category.WEAPONS)) == 4


def test_evidence_is_read_only_for_the_cases_asked_for(tmp_path: Path) -> None:
    rows = [
        {"case_id": "x-1", "evidence": [{"category": "cbd", "quote": "CBD oil 10%"}]},
        {"case_id": "x-2", "evidence": [{"category": "weapons", "quote": "Lower receiver"}]},
    ]
    (tmp_path / "annotations.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert load_evidence(tmp_path, ["x-1"]) == {"x-1": [(Category.CBD, "cbd oil 10%")]}


def _toy_cases() -> list[LabelledCase]:
    cases = []
    for i in range(12):
        quote = f"buy thc gummies {i} strong batch"
        filler = (f"ordinary shop line {i}", "free shipping on orders", f"about our team {i}")
        cases.append(
            _case(
                f"r{i}", (quote, *filler), {Category.ILLEGAL_DRUGS}, {quote: Category.ILLEGAL_DRUGS}
            )
        )
        cases.append(_case(f"c{i}", (f"garden gummies bears {i}", *filler), set(), {}))
    return cases


def test_the_instance_model_ranks_the_evidence_first_and_is_deterministic() -> None:
    cases = _toy_cases()
    model = fit_instance_model(cases)
    again = fit_instance_model(cases)
    column = MODELLED.index(Category.ILLEGAL_DRUGS)
    texts = ["buy thc gummies 99 strong batch", "ordinary shop line 99", "garden gummies bears 99"]
    scores = model.probabilities(texts)[:, column]
    assert scores[0] > 0.5 > max(scores[1], scores[2])
    assert np.array_equal(model.coef, again.coef)
    # A category with no evidence snippet never scores.
    assert model.probabilities(texts)[:, MODELLED.index(Category.WEAPONS)].max() < 1e-6


def test_calibration_thresholds_need_a_right_call_and_precision() -> None:
    cases = _toy_cases()
    model = fit_instance_model(cases)
    calls = [(c.categories, case_scores(model, c)) for c in cases]
    chosen = choose_calibration_thresholds(calls, MODELLED)
    assert chosen[Category.ILLEGAL_DRUGS] in INSTANCE_GRID
    assert chosen[Category.WEAPONS] == 1.0  # no right call: switched off
    # One wrong call among two at every score: 0.5 precision, switched off.
    noisy = [
        (frozenset({Category.CBD}), {c: 1.0 if c is Category.CBD else 0.0 for c in MODELLED}),
        (frozenset(), {c: 1.0 if c is Category.CBD else 0.0 for c in MODELLED}),
    ]
    assert choose_calibration_thresholds(noisy, MODELLED)[Category.CBD] == 1.0
