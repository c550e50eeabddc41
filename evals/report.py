"""The evaluation report (contract: shared/spec/eval-dataset-format.md) — build, write, load.

`build_report` scores an `EvalRun` into a JSON-ready dict whose top level holds every
contract key (in the contract's order) followed by extras: run identity, per-category
scores, the decision confusion matrix, reliability bins, Brier score, failures, the share of
cases sent to the model, and per-language / per-tag breakdowns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evals import metrics
from evals.results import CaseResult, EvalRun

REPORT_VERSION = 1
CONTRACT_KEYS: tuple[str, ...] = (
    "cases",
    "engine",
    "decision_accuracy",
    "reject_precision",
    "reject_recall",
    "flag_precision",
    "flag_recall",
    "category_precision",
    "category_recall",
    "category_f1",
    "citation_validity",
    "ece",
    "seconds_p50",
    "seconds_p95",
    "llm_calls",
    "tokens",
    "per_case",
)
PER_CASE_KEYS: tuple[str, ...] = (
    "case_id",
    "expected_decision",
    "decision",
    "expected_categories",
    "categories",
    "confidence",
    "citations",
    "invalid_citations",
    "seconds",
)


class ReportError(ValueError):
    """A file that is not an evaluation report; the message says why."""


def case_entry(case: CaseResult) -> dict[str, Any]:
    """One `per_case` row: the contract's keys, `error` when failed, then extras."""
    data = case.model_dump(mode="json")
    entry = {key: data[key] for key in PER_CASE_KEYS}
    if case.failed:
        entry["error"] = case.error or "no decision"
    entry.update(
        correct=case.correct,
        invalid_citation_count=len(case.invalid_citations),
        review_id=case.review_id,
        llm_calls=case.llm_calls,
        tokens=case.tokens,
        prompt_tokens=case.prompt_tokens,
        completion_tokens=case.completion_tokens,
        cost_usd=case.cost_usd,
        sent_to_model=case.sent_to_model,
        language=case.language,
        tags=case.tags,
    )
    return entry


def _headline(cases: list[CaseResult]) -> dict[str, Any]:
    reject, flag = metrics.reject_counts(cases), metrics.flag_counts(cases)
    categories = metrics.category_counts(cases)
    return {
        "decision_accuracy": metrics.decision_accuracy(cases),
        "reject_precision": reject.precision,
        "reject_recall": reject.recall,
        "flag_precision": flag.precision,
        "flag_recall": flag.recall,
        "category_precision": categories.precision,
        "category_recall": categories.recall,
        "category_f1": categories.f1,
        "citation_validity": metrics.citation_validity(cases),
        "ece": metrics.ece(cases),
        "seconds_p50": metrics.seconds_p50(cases),
        "seconds_p95": metrics.seconds_p95(cases),
        "llm_calls": metrics.llm_calls(cases),
        "tokens": metrics.tokens(cases),
    }


def _notes(cases: list[CaseResult], cited: int) -> list[str]:
    notes: list[str] = []
    if cited == 0:
        notes.append("nothing was cited: citation_validity is 1.0 by convention")
    failed = sum(case.failed for case in cases)
    if failed:
        notes.append(f"{failed} case(s) failed to run and count as wrong")
    return notes


def _extras(run: EvalRun) -> dict[str, Any]:
    cases = run.cases
    valid, cited = metrics.citation_counts(cases)
    return {
        "report_version": REPORT_VERSION,
        "run_id": run.run_id,
        "dataset": run.dataset,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "settings": run.settings,
        "citations_cited": cited,
        "citations_invalid": cited - valid,
        "brier": metrics.brier(cases),
        "model_share": metrics.model_share(cases),
        "cost": (cost := metrics.cost(cases)),
        "tokens_per_review": cost["tokens_per_review"],
        "cost_usd_per_review": cost["cost_usd_per_review"],
        "per_category": metrics.per_category(cases),
        "confusion_matrix": metrics.confusion_matrix(cases),
        "reliability": metrics.reliability(cases),
        "failures": [
            {"case_id": c.case_id, "error": c.error or "no decision"} for c in cases if c.failed
        ],
        "breakdowns": metrics.breakdowns(cases),
        "notes": _notes(cases, cited),
    }


def build_report(run: EvalRun) -> dict[str, Any]:
    """Score a run into the contract report (contract keys first, then extras)."""
    report: dict[str, Any] = {"cases": len(run.cases), "engine": run.engine}
    report.update(_headline(run.cases))
    report["per_case"] = [case_entry(case) for case in run.cases]
    report.update(_extras(run))
    return report


def write_report(report: dict[str, Any], path: Path) -> None:
    """Write the report as pretty JSON (keys in the order built), creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def check_report(data: object, source: str = "report") -> dict[str, Any]:
    """Return `data` as a report, or raise ReportError saying what is missing."""
    if not isinstance(data, dict):
        raise ReportError(f"{source} is not an eval report: top level is not a JSON object")
    missing = [key for key in CONTRACT_KEYS if key not in data]
    if missing:
        raise ReportError(f"{source} is not an eval report: missing keys {', '.join(missing)}")
    rows = data["per_case"]
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "case_id" in r for r in rows):
        raise ReportError(f"{source} is not an eval report: per_case is not a list of cases")
    return data


def load_report(path: Path) -> dict[str, Any]:
    """Read a report written by `write_report`; ReportError for a file that is not one."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path} is not an eval report: not JSON ({exc.msg})") from exc
    return check_report(data, str(path))


def case_results(report: dict[str, Any]) -> list[CaseResult]:
    """The report's `per_case` rows back as CaseResults (for rescoring and comparing)."""
    results: list[CaseResult] = []
    for row in report["per_case"]:
        try:
            results.append(CaseResult.model_validate(row))
        except ValidationError as exc:
            case_id = row.get("case_id")
            raise ReportError(f"per_case {case_id!r} is not a valid case: {exc}") from exc
    return results
