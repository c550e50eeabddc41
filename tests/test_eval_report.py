"""The contract report: keys, values, write/load, the terminal summary and the HTML page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from evals.html import render_html, write_html
from evals.report import (
    CONTRACT_KEYS,
    PER_CASE_KEYS,
    ReportError,
    build_report,
    case_results,
    load_report,
    write_report,
)
from evals.results import CaseResult, EvalRun
from evals.summary import print_summary, worst_cases
from tests.test_eval_metrics import make_case, page, sample_cases


def make_run(cases: list[CaseResult], **extra: Any) -> EvalRun:
    return EvalRun(
        run_id="eval-test",
        dataset="evals/datasets/tiny",
        engine="offline",
        started_at=datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
        finished_at=datetime(2026, 3, 2, 12, 5, tzinfo=UTC),
        cases=cases,
        **extra,
    )


def sample_report() -> dict[str, Any]:
    failed = make_case("c7", "reject", None, ("weapons",), error="crawl_website failed: boom")
    return build_report(make_run([*sample_cases(), failed]))


def test_report_has_every_contract_key_first_and_in_order() -> None:
    report = sample_report()
    assert list(report)[: len(CONTRACT_KEYS)] == list(CONTRACT_KEYS)
    for key in ("run_id", "dataset", "started_at", "per_category", "confusion_matrix",
                "reliability", "brier", "failures", "model_share", "breakdowns"):  # fmt: skip
        assert key in report
    for row in report["per_case"]:
        assert set(PER_CASE_KEYS) <= set(row)


def test_report_values() -> None:
    report = sample_report()  # six sample cases plus one failed reject
    assert report["cases"] == 7
    assert report["engine"] == "offline"
    assert report["decision_accuracy"] == pytest.approx(4 / 7)
    assert report["reject_precision"] == 0.5  # tp 1, fp 1 (c4)
    assert report["reject_recall"] == pytest.approx(1 / 3)  # c2 and failed c7 missed
    assert report["category_recall"] == pytest.approx(2 / 5)  # c7's weapons missed too
    assert report["citation_validity"] == pytest.approx(0.6)
    assert (report["citations_cited"], report["citations_invalid"]) == (5, 2)
    assert (report["llm_calls"], report["tokens"]) == (3, 150)
    assert report["failures"] == [{"case_id": "c7", "error": "crawl_website failed: boom"}]
    assert report["confusion_matrix"]["reject"]["error"] == 1
    assert json.loads(json.dumps(report)) == report  # JSON-ready as built


def test_per_case_rows() -> None:
    rows = {row["case_id"]: row for row in sample_report()["per_case"]}
    assert rows["c7"]["error"] == "crawl_website failed: boom"
    assert rows["c7"]["decision"] is None
    assert "error" not in rows["c1"]
    assert rows["c2"]["invalid_citations"] == [page("made up", valid=False)]
    assert rows["c2"]["invalid_citation_count"] == 1
    assert rows["c2"]["expected_categories"] == ["illegal_drugs", "weapons"]
    assert rows["c1"]["correct"] is True


def test_write_load_round_trip(tmp_path: Path) -> None:
    report = sample_report()
    path = tmp_path / "out" / "report.json"
    write_report(report, path)
    assert load_report(path) == report
    assert path.read_text(encoding="utf-8").startswith('{\n  "cases": 7,\n  "engine"')


def test_per_case_rows_rescore_to_the_same_report() -> None:
    report = sample_report()
    again = build_report(make_run(case_results(report)))
    for key in CONTRACT_KEYS:
        assert again[key] == report[key]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json at all", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"cases": 3, "engine": "offline"}', "missing keys decision_accuracy"),
    ],
)
def test_load_of_a_non_report_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReportError, match="is not an eval report") as info:
        load_report(path)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_notes_when_nothing_cited() -> None:
    report = build_report(make_run([make_case("a", "approve", "approve", confidence=0.9)]))
    assert report["citation_validity"] == 1.0
    assert any("nothing was cited" in note for note in report["notes"])


def test_worst_cases_confident_mistakes_first() -> None:
    order = [row["case_id"] for row in worst_cases(sample_report())]
    # wrong: c2 (0.8), c4 (0.6), c7 (failed, no confidence); nothing else is imperfect
    assert order == ["c2", "c4", "c7"]


def test_print_summary() -> None:
    console = Console(record=True, width=220)
    print_summary(sample_report(), console)
    text = console.export_text()
    for expected in ("decision accuracy", "0.571", "per category", "illegal_drugs",
                     "expected (rows)", "worst cases", "failed cases"):  # fmt: skip
        assert expected in text
    worst = text[text.index("worst cases") :]
    assert worst.index("c2") < worst.index("c4") < worst.index("c7")
    assert "(invalid)" in worst  # c4's only citation is invalid


def hostile_report() -> dict[str, Any]:
    citations = [
        page("<script>alert('x')</script> buy now", url="https://evil.example/?q=<b>"),
        {"kind": "page", "url": "javascript:alert(1)", "quote": "click", "valid": False},
        {"kind": "record", "field": "mcc", "value": "5999", "valid": True},
    ]
    cases = [
        *sample_cases(),
        make_case("c<i>8", "reject", "approve", confidence=0.99, citations=citations),
    ]
    return build_report(make_run(cases))


def test_html_has_reliability_svg_and_tables() -> None:
    html = render_html(hostile_report())
    assert '<svg id="reliability"' in html
    assert html.count('class="accuracy"') == 5  # non-empty bins: 3, 6, 7, 8 and 9
    assert 'class="diagonal"' in html
    assert "n=3" in html  # 0.9, 0.95 and 0.99
    assert 'id="confusion"' in html and 'id="per-category"' in html
    assert "INVALID" in html


def test_html_escapes_merchant_text_and_is_self_contained() -> None:
    html = render_html(hostile_report())
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; buy now" in html
    assert "c&lt;i&gt;8" in html
    assert 'href="https://evil.example/?q=&lt;b&gt;"' in html
    assert 'href="javascript:' not in html
    assert not re.search(r"<link\b|\bsrc=|@import|url\(", html)


def test_write_html(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "report.html"
    write_html(sample_report(), path)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_contract_only_report_renders() -> None:
    """A report holding only the contract's keys (say, from another tool) still renders."""
    report = {key: sample_report()[key] for key in CONTRACT_KEYS}
    assert "decision accuracy" in render_html(report)
    console = Console(record=True, width=200)
    print_summary(report, console)
    assert "worst cases" in console.export_text()
