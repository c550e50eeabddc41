"""Scorers on small hand-made case lists; every expected value is computed by hand below."""

from __future__ import annotations

from typing import Any

import pytest

from evals import metrics
from evals.metrics import Counts
from evals.results import CaseResult


def page(quote: str, valid: bool = True, url: str = "https://shop.example/") -> dict[str, Any]:
    return {"kind": "page", "url": url, "quote": quote, "valid": valid}


def make_case(
    case_id: str,
    expected: str,
    decision: str | None,
    expected_categories: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    confidence: float | None = None,
    **extra: Any,
) -> CaseResult:
    return CaseResult.model_validate(
        {
            "case_id": case_id,
            "expected_decision": expected,
            "decision": decision,
            "expected_categories": list(expected_categories),
            "categories": list(categories),
            "confidence": confidence,
            **extra,
        }
    )


def sample_cases() -> list[CaseResult]:
    """Six cases: c1, c3, c5, c6 right; c2, c4 wrong.

    reject:  expected {c1, c2}, predicted {c1, c4}        -> tp 1, fp 1, fn 1
    flag:    expected {c1, c2, c3, c6}, predicted + c4    -> tp 4, fp 1, fn 0
    categories: c1 tp; c2 fp cbd, fn drugs + weapons; c3 tp; c4 fp weapons -> tp 2, fp 2, fn 2
    """
    return [
        make_case("c1", "reject", "reject", ("weapons",), ("weapons",), 0.9,
                  citations=[page("rifles"), page("ammo")], seconds=1.0, llm_calls=2,
                  tokens=100, sent_to_model=True),
        make_case("c2", "reject", "request_info", ("illegal_drugs", "weapons"), ("cbd",), 0.8,
                  citations=[page("hemp oil"), page("made up", valid=False)], seconds=2.0,
                  llm_calls=1, tokens=50, sent_to_model=True),
        make_case("c3", "request_info", "request_info", ("cbd",), ("cbd",), 0.7, seconds=3.0),
        make_case("c4", "approve", "reject", (), ("weapons",), 0.6,
                  citations=[page("nope", valid=False)], seconds=4.0),
        make_case("c5", "approve", "approve", (), (), 0.95, seconds=10.0),
        make_case("c6", "escalate", "escalate", (), (), 0.3, seconds=6.0),
    ]  # fmt: skip


def test_decision_accuracy() -> None:
    assert metrics.decision_accuracy(sample_cases()) == pytest.approx(4 / 6)
    assert metrics.decision_accuracy([]) == 0.0


def test_reject_and_flag_precision_recall() -> None:
    cases = sample_cases()
    assert metrics.reject_counts(cases) == Counts(tp=1, fp=1, fn=1)
    assert metrics.reject_counts(cases).precision == 0.5
    assert metrics.reject_counts(cases).recall == 0.5
    flags = metrics.flag_counts(cases)
    assert flags == Counts(tp=4, fp=1, fn=0)
    assert (flags.precision, flags.recall) == (0.8, 1.0)


def test_category_micro_scores() -> None:
    counts = metrics.category_counts(sample_cases())
    assert counts == Counts(tp=2, fp=2, fn=2)
    assert (counts.precision, counts.recall, counts.f1) == (0.5, 0.5, 0.5)


def test_per_category_in_taxonomy_order() -> None:
    table = metrics.per_category(sample_cases())
    assert list(table) == ["illegal_drugs", "weapons", "cbd"]
    assert table["weapons"] == {
        "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "tp": 1, "fp": 1, "fn": 1,
    }  # fmt: skip
    assert (table["illegal_drugs"]["precision"], table["illegal_drugs"]["recall"]) == (0.0, 0.0)
    assert table["cbd"]["precision"] == 0.5
    assert table["cbd"]["f1"] == pytest.approx(2 / 3)


def test_empty_denominators() -> None:
    assert (Counts().precision, Counts().recall, Counts().f1) == (1.0, 1.0, 1.0)
    assert (Counts(fn=1).precision, Counts(fn=1).recall, Counts(fn=1).f1) == (0.0, 0.0, 0.0)
    assert (Counts(fp=1).precision, Counts(fp=1).recall) == (0.0, 0.0)


def test_citation_validity() -> None:
    assert metrics.citation_counts(sample_cases()) == (3, 5)
    assert metrics.citation_validity(sample_cases()) == pytest.approx(0.6)
    assert metrics.citation_validity([make_case("x", "approve", "approve")]) == 1.0


def test_ece_and_brier_on_known_example() -> None:
    # bins: 9 -> {0.9 right, 0.95 right}: gap 0.075 (weight 2/6); 8 -> 0.8 wrong: 0.8;
    # 7 -> 0.7 right: 0.3; 6 -> 0.6 wrong: 0.6; 3 -> 0.3 right: 0.7.
    cases = sample_cases()
    assert metrics.ece(cases) == pytest.approx((2 * 0.075 + 0.8 + 0.3 + 0.6 + 0.7) / 6)
    squares = [0.1**2, 0.8**2, 0.3**2, 0.6**2, 0.05**2, 0.7**2]
    assert metrics.brier(cases) == pytest.approx(sum(squares) / 6)


def test_ece_perfectly_calibrated_is_zero() -> None:
    cases = [make_case(f"r{i}", "approve", "approve", confidence=0.75) for i in range(3)]
    cases.append(make_case("w", "approve", "reject", confidence=0.75))
    assert metrics.ece(cases) == pytest.approx(0.0)
    assert metrics.ece([]) == 0.0


def test_reliability_bins() -> None:
    cases = [
        make_case("a", "approve", "approve", confidence=1.0),
        make_case("b", "approve", "reject", confidence=0.0),
        make_case("c", "approve", "approve", confidence=0.91),
        make_case("d", "approve", "approve", confidence=None),
    ]
    bins = metrics.reliability(cases)
    assert len(bins) == 10
    assert bins[0] == {"lower": 0.0, "upper": 0.1, "count": 1, "mean_confidence": 0.0,
                       "accuracy": 0.0}  # fmt: skip
    assert bins[9]["count"] == 2
    assert bins[9]["mean_confidence"] == pytest.approx(0.955)
    assert bins[9]["accuracy"] == 1.0
    assert bins[5] == {"lower": 0.5, "upper": 0.6, "count": 0, "mean_confidence": None,
                       "accuracy": None}  # fmt: skip


def test_seconds_percentiles() -> None:
    cases = sample_cases()[:5]  # seconds 1, 2, 3, 4, 10
    assert metrics.seconds_p50(cases) == 3.0
    assert metrics.seconds_p95(cases) == pytest.approx(8.8)  # 4 + 0.8 * (10 - 4)
    assert metrics.seconds_p50([]) == 0.0


def test_totals_and_model_share() -> None:
    cases = sample_cases()
    assert (metrics.llm_calls(cases), metrics.tokens(cases)) == (3, 150)
    assert metrics.model_share(cases) == pytest.approx(2 / 6)


def test_failed_case_counts_as_wrong() -> None:
    failed_reject = make_case("f1", "reject", None, ("weapons",), error="crawl failed")
    failed_approve = make_case("f2", "approve", "approve", categories=("cbd",), confidence=0.9,
                               error="assess failed: TimeoutError")  # fmt: skip
    lucky_escalate = make_case("f3", "escalate", "escalate", error="decide failed")
    cases = [failed_reject, failed_approve, lucky_escalate]
    assert all(case.failed and not case.correct for case in cases)
    assert metrics.decision_accuracy(cases) == 0.0
    assert metrics.reject_counts(cases) == Counts(tp=0, fp=2, fn=1)
    assert metrics.flag_counts(cases) == Counts(tp=0, fp=1, fn=2)
    assert metrics.category_counts(cases) == Counts(tp=0, fp=0, fn=1)
    assert metrics.ece(cases) == pytest.approx(0.9)  # confident and wrong
    matrix = metrics.confusion_matrix(cases)
    assert matrix["reject"]["error"] == matrix["approve"]["error"] == 1
    assert matrix["escalate"] == {"reject": 0, "request_info": 0, "escalate": 0, "approve": 0,
                                  "error": 1}  # fmt: skip


def test_confusion_matrix() -> None:
    matrix = metrics.confusion_matrix(sample_cases())
    assert list(matrix) == ["reject", "request_info", "escalate", "approve"]
    assert matrix["reject"] == {"reject": 1, "request_info": 1, "escalate": 0, "approve": 0,
                                "error": 0}  # fmt: skip
    assert matrix["approve"]["reject"] == matrix["approve"]["approve"] == 1
    assert sum(n for row in matrix.values() for n in row.values()) == 6


def test_invalid_citations_derived_from_citations() -> None:
    case = sample_cases()[1]
    assert case.invalid_citations == [page("made up", valid=False)]


def test_breakdowns_by_tag_and_language() -> None:
    cases = [
        make_case("a", "approve", "approve", language="en", tags={"split": "test"}),
        make_case("b", "reject", "approve", language="de", tags={"split": "test"}),
        make_case("c", "reject", "reject", language="en", tags={"split": "dev", "empty": ""}),
    ]
    result = metrics.breakdowns(cases)
    assert set(result) == {"language", "split"}
    assert result["split"]["test"]["cases"] == 2
    assert result["split"]["test"]["decision_accuracy"] == 0.5
    assert result["language"]["en"]["decision_accuracy"] == 1.0
    assert result["language"]["de"]["flag_recall"] == 0.0
    # "en" flagged one case rightly; a group with nothing flagged has no flag precision,
    # one with no expected flag has no flag recall (shown as a dash, not 0 or 1).
    assert result["language"]["en"]["flag_precision"] == 1.0
    assert result["language"]["de"]["flag_precision"] is None
    pair = [make_case("p", "approve", "approve", tags={"kind": "lookalike"}),
            make_case("q", "approve", "escalate", tags={"kind": "lookalike"})]  # fmt: skip
    lookalikes = metrics.breakdowns(pair)["kind"]["lookalike"]
    assert lookalikes["flag_recall"] is None and lookalikes["decision_accuracy"] == 0.5
    assert metrics.breakdowns([make_case("x", "approve", "approve", tags={"split": ""})]) == {}
