"""Comparing two reports: changed cases, McNemar on a known table, the bootstrap, warnings."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from evals.compare import bootstrap_f1, compare_reports, mcnemar_exact, print_comparison
from evals.report import build_report
from evals.results import CaseResult
from tests.test_eval_metrics import make_case
from tests.test_eval_report import make_run


def report_of(cases: list[CaseResult], **extra: Any) -> dict[str, Any]:
    return build_report(make_run(cases, **extra))


def paired_reports() -> tuple[dict[str, Any], dict[str, Any]]:
    """Eleven shared cases; A has one extra.

    A right, B wrong: 1 (b)   A wrong, B right: 6 (c)   both right: 2
    both wrong, same decision: 1   both wrong, different decisions: 1
    """
    a = [make_case("broke", "reject", "reject"), make_case("x-only-a", "approve", "approve")]
    b = [make_case("broke", "reject", "approve")]
    for i in range(6):
        a.append(make_case(f"fix{i}", "request_info", "approve"))
        b.append(make_case(f"fix{i}", "request_info", "request_info"))
    for i in range(2):
        a.append(make_case(f"ok{i}", "approve", "approve"))
        b.append(make_case(f"ok{i}", "approve", "approve"))
    a.append(make_case("same", "reject", "approve"))
    b.append(make_case("same", "reject", "approve"))
    a.append(make_case("moved", "reject", "escalate"))
    b.append(make_case("moved", "reject", None, error="assess failed"))
    return report_of(a), report_of(b)


def test_mcnemar_exact_known_values() -> None:
    assert mcnemar_exact(1, 6) == pytest.approx(16 / 128)  # 2 * (C(7,0) + C(7,1)) / 2^7
    assert mcnemar_exact(6, 1) == pytest.approx(16 / 128)
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(3, 3) == 1.0  # 2 * 42/64 capped at 1
    assert mcnemar_exact(0, 0) == 1.0


def test_compare_finds_changed_cases() -> None:
    comparison = compare_reports(*paired_reports())
    changes = {change.case_id: change.change for change in comparison.changes}
    assert changes == {
        "broke": "broken",
        **{f"fix{i}": "fixed" for i in range(6)},
        "moved": "still wrong",
    }
    moved = next(c for c in comparison.changes if c.case_id == "moved")
    assert (moved.a, moved.b) == ("escalate", "error")


def test_compare_mcnemar_on_known_table() -> None:
    comparison = compare_reports(*paired_reports())
    test = comparison.mcnemar
    assert (test.shared, test.b, test.c) == (11, 1, 6)
    assert test.p_value == pytest.approx(0.125)
    assert not test.significant
    assert "not significant at 5%" in comparison.notes[0]
    assert "fixed 6 and broke 1 of 11" in comparison.notes[0]


def test_compare_metric_deltas() -> None:
    comparison = compare_reports(*paired_reports())
    accuracy = next(m for m in comparison.metrics if m.key == "decision_accuracy")
    assert accuracy.a == pytest.approx(4 / 12)  # broke, x-only-a, ok0, ok1
    assert accuracy.b == pytest.approx(8 / 11)  # fix0..5, ok0, ok1
    assert accuracy.delta == pytest.approx(8 / 11 - 4 / 12)
    assert accuracy.better == 1


def test_lower_is_better_metrics() -> None:
    slow = report_of([make_case("a", "approve", "approve", seconds=2.0)])
    fast = report_of([make_case("a", "approve", "approve", seconds=1.0)])
    seconds = next(m for m in compare_reports(slow, fast).metrics if m.key == "seconds_p50")
    assert (seconds.delta, seconds.better) == (-1.0, 1)


def test_compare_warns_about_case_sets_and_datasets() -> None:
    a, b = paired_reports()
    b["dataset"] = "evals/datasets/other"
    comparison = compare_reports(a, b)
    assert comparison.only_in_a == ["x-only-a"]
    assert comparison.only_in_b == []
    assert any("different datasets" in w for w in comparison.warnings)
    assert any("1 only in A, 0 only in B" in w for w in comparison.warnings)
    same = compare_reports(a, a)
    assert same.warnings == []
    assert same.changes == []


def test_bootstrap_identical_and_clearly_better() -> None:
    a = [make_case(f"c{i}", "request_info", "request_info", ("cbd",), ()) for i in range(20)]
    b = [make_case(f"c{i}", "request_info", "request_info", ("cbd",), ("cbd",)) for i in range(20)]
    same = bootstrap_f1(a, a)
    assert same is not None
    assert (same.difference, same.low, same.high) == (0.0, 0.0, 0.0)
    assert not same.significant
    better = bootstrap_f1(a, b)
    assert better is not None
    assert (better.difference, better.low, better.high) == (1.0, 1.0, 1.0)
    assert better.significant
    assert bootstrap_f1([], []) is None


def test_bootstrap_is_seeded() -> None:
    a = [make_case(f"c{i}", "reject", "reject", ("weapons",), ("weapons",) if i % 3 else ())
         for i in range(15)]  # fmt: skip
    b = [make_case(f"c{i}", "reject", "reject", ("weapons",), ("weapons",) if i % 2 else ())
         for i in range(15)]  # fmt: skip
    first, second = bootstrap_f1(a, b), bootstrap_f1(a, b)
    assert first == second
    assert first is not None
    assert first.low <= first.difference <= first.high


def test_print_comparison() -> None:
    console = Console(record=True, width=200)
    print_comparison(compare_reports(*paired_reports()), console)
    text = console.export_text()
    for expected in ("warning: different case sets", "decision accuracy", "changed decisions (8)",
                     "fixed", "broken", "McNemar exact p = 0.125", "category F1"):  # fmt: skip
        assert expected in text
