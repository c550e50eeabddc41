"""Two reports side by side: metric deltas, changed cases and paired significance.

Significance is paired over the cases both reports share (by `case_id`):

* decisions: McNemar's exact test on decision correctness. `b` counts cases A got right and
  B got wrong, `c` cases A got wrong and B got right; the two-sided p-value is the binomial
  tail `min(1, 2 · P(X ≤ min(b, c)))` with X ~ Binomial(b + c, 1/2) (1.0 when b + c = 0).
* categories: a seeded paired bootstrap of the difference in micro category F1 (B − A),
  resampling shared cases with replacement; its 95% percentile interval is reported.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from rich.console import Console
from rich.table import Table
from rich.text import Text

from evals.metrics import case_category_counts
from evals.report import case_results
from evals.results import CaseResult
from evals.summary import HEADLINE, fmt

LOWER_IS_BETTER = frozenset({"ece", "brier", "seconds_p50", "seconds_p95", "llm_calls", "tokens"})
NEUTRAL = frozenset({"cases", "model_share"})
RESAMPLES = 2000
SEED = 20260302
ALPHA = 0.05


class MetricDelta(BaseModel):
    """One headline metric in both reports; `better` is +1/-1/0 for B against A."""

    key: str
    label: str
    kind: str
    a: float | None
    b: float | None
    delta: float | None
    better: int = 0


class CaseChange(BaseModel):
    """A shared case whose decision differs between A and B (`error` for a failed case)."""

    case_id: str
    expected: str
    a: str
    b: str
    a_correct: bool
    b_correct: bool

    @property
    def change(self) -> str:
        """`fixed` (became right), `broken` (became wrong) or `still wrong`."""
        if self.b_correct and not self.a_correct:
            return "fixed"
        if self.a_correct and not self.b_correct:
            return "broken"
        return "still right" if self.a_correct else "still wrong"


class McNemar(BaseModel):
    """McNemar's exact test on decision correctness over shared cases."""

    shared: int
    b: int = Field(description="A right, B wrong")
    c: int = Field(description="A wrong, B right")
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


class BootstrapCI(BaseModel):
    """Paired bootstrap 95% interval of category F1 (B − A) over shared cases."""

    difference: float
    low: float
    high: float
    resamples: int
    seed: int

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


class Comparison(BaseModel):
    """Everything `print_comparison` shows; JSON-serialisable."""

    a_label: str
    b_label: str
    metrics: list[MetricDelta]
    changes: list[CaseChange]
    shared_cases: int
    only_in_a: list[str]
    only_in_b: list[str]
    mcnemar: McNemar
    bootstrap: BootstrapCI | None
    warnings: list[str]
    notes: list[str]


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for discordant counts b and c."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return min(1.0, 2 * tail / (1 << n))


def mcnemar(a: list[CaseResult], b: list[CaseResult]) -> McNemar:
    """McNemar's exact test on paired lists (same cases, same order)."""
    right_wrong = sum(x.correct and not y.correct for x, y in zip(a, b, strict=True))
    wrong_right = sum(y.correct and not x.correct for x, y in zip(a, b, strict=True))
    return McNemar(
        shared=len(a), b=right_wrong, c=wrong_right, p_value=mcnemar_exact(right_wrong, wrong_right)
    )


def _count_matrix(cases: list[CaseResult]) -> np.ndarray[Any, np.dtype[np.float64]]:
    rows = [case_category_counts(case) for case in cases]
    return np.array([[r.tp, r.fp, r.fn] for r in rows], dtype=np.float64).reshape(-1, 3)


def _micro_f1(totals: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, Any]:
    tp, fp, fn = totals[..., 0], totals[..., 1], totals[..., 2]
    denominator = 2 * tp + fp + fn
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, 1.0, 2 * tp / safe)


def bootstrap_f1(
    a: list[CaseResult], b: list[CaseResult], *, resamples: int = RESAMPLES, seed: int = SEED
) -> BootstrapCI | None:
    """Paired bootstrap of micro category F1 (B − A); None with no shared cases."""
    if not a:
        return None
    counts_a, counts_b = _count_matrix(a), _count_matrix(b)
    point = float(_micro_f1(counts_b.sum(axis=0)) - _micro_f1(counts_a.sum(axis=0)))
    picks = np.random.default_rng(seed).integers(0, len(a), size=(resamples, len(a)))
    diffs = _micro_f1(counts_b[picks].sum(axis=1)) - _micro_f1(counts_a[picks].sum(axis=1))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return BootstrapCI(
        difference=point, low=float(low), high=float(high), resamples=resamples, seed=seed
    )


def _label(report: dict[str, Any]) -> str:
    run = report.get("run_id")
    return f"{report.get('engine', '?')} ({run})" if run else str(report.get("engine", "?"))


def _metric(key: str, label: str, kind: str, a: dict[str, Any], b: dict[str, Any]) -> MetricDelta:
    va, vb = a.get(key), b.get(key)
    delta = None if va is None or vb is None else float(vb) - float(va)
    sign = -1 if key in LOWER_IS_BETTER else (0 if key in NEUTRAL else 1)
    better = 0 if not delta else sign * (1 if delta > 0 else -1)
    return MetricDelta(key=key, label=label, kind=kind, a=va, b=vb, delta=delta, better=better)


def _changes(a: list[CaseResult], b: list[CaseResult]) -> list[CaseChange]:
    return [
        CaseChange(
            case_id=x.case_id,
            expected=str(y.expected_decision),
            a=x.shown_decision,
            b=y.shown_decision,
            a_correct=x.correct,
            b_correct=y.correct,
        )
        for x, y in zip(a, b, strict=True)
        if x.shown_decision != y.shown_decision
    ]


def _warnings(
    ra: dict[str, Any],
    rb: dict[str, Any],
    a: list[CaseResult],
    b: list[CaseResult],
    only_a: list[str],
    only_b: list[str],
) -> list[str]:
    warnings: list[str] = []
    if ra.get("dataset") != rb.get("dataset"):
        warnings.append(f"different datasets: {ra.get('dataset')!r} vs {rb.get('dataset')!r}")
    if only_a or only_b:
        warnings.append(
            f"different case sets: {len(only_a)} only in A, {len(only_b)} only in B; "
            f"significance uses the {len(a)} shared case(s), metric deltas the whole reports"
        )
    relabelled = [
        x.case_id
        for x, y in zip(a, b, strict=True)
        if (x.expected_decision, set(x.expected_categories))
        != (y.expected_decision, set(y.expected_categories))
    ]
    if relabelled:
        warnings.append(f"{len(relabelled)} shared case(s) have different expected labels")
    return warnings


def _notes(test: McNemar, ci: BootstrapCI | None) -> list[str]:
    verdict = "significant" if test.significant else "not significant"
    notes = [
        f"decisions: B fixed {test.c} and broke {test.b} of {test.shared} shared case(s); "
        f"McNemar exact p = {test.p_value:.3g}: difference {verdict} at 5%"
    ]
    if ci is None:
        notes.append("category F1: no shared cases to compare")
    else:
        verdict = "significant" if ci.significant else "not significant"
        notes.append(
            f"category F1: B − A = {ci.difference:+.3f}, 95% CI [{ci.low:+.3f}, {ci.high:+.3f}] "
            f"(paired bootstrap, {ci.resamples} resamples): difference {verdict} at 5%"
        )
    return notes


def compare_reports(a: dict[str, Any], b: dict[str, Any]) -> Comparison:
    """Compare report A (baseline) with report B (candidate)."""
    cases_a = {case.case_id: case for case in case_results(a)}
    cases_b = {case.case_id: case for case in case_results(b)}
    shared = [case_id for case_id in cases_a if case_id in cases_b]
    pa, pb = [cases_a[i] for i in shared], [cases_b[i] for i in shared]
    only_a = [i for i in cases_a if i not in cases_b]
    only_b = [i for i in cases_b if i not in cases_a]
    test, ci = mcnemar(pa, pb), bootstrap_f1(pa, pb)
    return Comparison(
        a_label=_label(a),
        b_label=_label(b),
        metrics=[_metric(key, label, kind, a, b) for key, label, kind in HEADLINE],
        changes=_changes(pa, pb),
        shared_cases=len(shared),
        only_in_a=only_a,
        only_in_b=only_b,
        mcnemar=test,
        bootstrap=ci,
        warnings=_warnings(a, b, pa, pb, only_a, only_b),
        notes=_notes(test, ci),
    )


def _delta_text(metric: MetricDelta) -> Text:
    if metric.delta is None:
        return Text("—", style="dim")
    value = f"{round(metric.delta):+,}" if metric.kind == "int" else f"{metric.delta:+.3f}"
    style = {1: "green", -1: "red"}.get(metric.better, "")
    return Text(value, style=style)


def _metric_table(comparison: Comparison) -> Table:
    table = Table(title="metrics (A → B)")
    table.add_column("metric")
    table.add_column(Text(f"A: {comparison.a_label}"), justify="right")
    table.add_column(Text(f"B: {comparison.b_label}"), justify="right")
    table.add_column("Δ", justify="right")
    for m in comparison.metrics:
        table.add_row(m.label, fmt(m.a, m.kind), fmt(m.b, m.kind), _delta_text(m))
    return table


def _changes_table(comparison: Comparison) -> Table:
    table = Table(title=f"changed decisions ({len(comparison.changes)})")
    for name in ("case", "expected", "A", "B", "change"):
        table.add_column(name)
    styles = {"fixed": "green", "broken": "red", "still wrong": "yellow"}
    for change in comparison.changes:
        table.add_row(
            Text(change.case_id),
            change.expected,
            change.a,
            change.b,
            Text(change.change, style=styles.get(change.change, "")),
        )
    return table


def print_comparison(comparison: Comparison, console: Console) -> None:
    """Print warnings, the metric table, changed cases and the significance notes."""
    for warning in comparison.warnings:
        console.print(Text(f"warning: {warning}", style="bold yellow"))
    console.print(_metric_table(comparison))
    if comparison.changes:
        console.print(_changes_table(comparison))
    for note in comparison.notes:
        console.print(Text(note))
