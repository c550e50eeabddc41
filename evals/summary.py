"""The terminal summary of a report: overall scores, per category, confusion matrix, worst cases.

Also the report views shared with the HTML page: `headline_rows`, `worst_cases`,
`top_citation`, `is_correct`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from evals.metrics import DECISION_LABELS, PREDICTED_LABELS

Row = dict[str, Any]

HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("cases", "cases", "int"),
    ("decision_accuracy", "decision accuracy", "frac"),
    ("reject_precision", "reject precision", "frac"),
    ("reject_recall", "reject recall", "frac"),
    ("flag_precision", "flag precision", "frac"),
    ("flag_recall", "flag recall", "frac"),
    ("category_precision", "category precision", "frac"),
    ("category_recall", "category recall", "frac"),
    ("category_f1", "category F1", "frac"),
    ("citation_validity", "citation validity", "frac"),
    ("ece", "ECE", "frac"),
    ("brier", "Brier score", "frac"),
    ("seconds_p50", "seconds p50", "secs"),
    ("seconds_p95", "seconds p95", "secs"),
    ("llm_calls", "LLM calls", "int"),
    ("tokens", "tokens", "int"),
    ("tokens_per_review", "tokens per review", "int"),
    ("cost_usd_per_review", "est. cost per review", "usd"),
    ("model_share", "share sent to model", "frac"),
)
WORST_LIMIT = 10


def fmt(value: Any, kind: str = "frac") -> str:
    """A metric value for people: fractions to 3 places, seconds with a unit, ints grouped."""
    if value is None:
        return "—"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "usd":
        return f"${float(value):.6f}"
    if kind == "secs":
        return f"{float(value):.2f} s"
    return f"{float(value):.3f}"


def headline_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, formatted value) for each headline metric the report has."""
    return [(label, fmt(report[key], kind)) for key, label, kind in HEADLINE if key in report]


def is_correct(row: Row) -> bool:
    """A per_case row's decision is right (a failed case never is)."""
    if "correct" in row:
        return bool(row["correct"])
    return not row.get("error") and row.get("decision") == row.get("expected_decision")


def shown_decision(row: Row) -> str:
    """The row's decision, or `error` for a failed case."""
    return "error" if row.get("error") or row.get("decision") is None else str(row["decision"])


def _severity(row: Row) -> int | None:
    if not is_correct(row):
        return 0
    categories_differ = set(row.get("categories") or []) != set(
        row.get("expected_categories") or []
    )
    if categories_differ or row.get("invalid_citations"):
        return 1
    return None


def worst_cases(report: dict[str, Any], limit: int | None = WORST_LIMIT) -> list[Row]:
    """Imperfect cases, worst first: wrong decisions, then wrong categories or bad quotes;
    within each, the most confident first (confident mistakes are worst)."""
    ranked = [(sev, row) for row in report["per_case"] if (sev := _severity(row)) is not None]
    ranked.sort(key=lambda item: (item[0], -(item[1].get("confidence") or 0.0)))
    rows = [row for _, row in ranked]
    return rows if limit is None else rows[:limit]


def citation_text(citation: dict[str, Any]) -> str:
    """A citation in one line: `"quote" (url)` or `field = value`."""
    if citation.get("kind") == "record":
        return f"{citation.get('field')} = {citation.get('value')}"
    return f"\u201c{citation.get('quote', '')}\u201d ({citation.get('url', '')})"


def top_citation(row: Row) -> dict[str, Any] | None:
    """The first valid citation, else the first cited one, else None."""
    citations: list[dict[str, Any]] = row.get("citations") or []
    valid = [c for c in citations if c.get("valid")]
    ranked = valid or citations
    return ranked[0] if ranked else None


def _verdict_text(decision: str, categories: list[str]) -> str:
    return f"{decision} [{', '.join(categories)}]" if categories else decision


def _overall_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"eval: {report.get('engine', '?')}", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, value in headline_rows(report):
        table.add_row(label, value)
    failures = report.get("failures") or []
    if failures:
        table.add_row(Text("failed cases", style="red"), Text(str(len(failures)), style="red"))
    return table


def _category_table(report: dict[str, Any]) -> Table:
    table = Table(title="per category")
    for name in ("category", "precision", "recall", "F1", "support"):
        table.add_column(name, justify="left" if name == "category" else "right")
    for category, scores in (report.get("per_category") or {}).items():
        table.add_row(
            category,
            fmt(scores["precision"]),
            fmt(scores["recall"]),
            fmt(scores["f1"]),
            str(scores["support"]),
        )
    return table


def _confusion_table(report: dict[str, Any]) -> Table:
    table = Table(title="decisions: expected (rows) × predicted (columns)")
    table.add_column("expected")
    for label in PREDICTED_LABELS:
        table.add_column(label, justify="right")
    matrix = report.get("confusion_matrix") or {}
    for expected in DECISION_LABELS:
        cells = matrix.get(expected, {})
        table.add_row(expected, *(_cell(cells.get(p, 0), p == expected) for p in PREDICTED_LABELS))
    return table


def _cell(count: int, diagonal: bool) -> Text:
    style = "bold green" if diagonal and count else ("red" if count else "dim")
    return Text(str(count), style=style)


def _worst_table(report: dict[str, Any]) -> Table:
    table = Table(title="worst cases (confident mistakes first)")
    for name in ("case", "expected", "got", "conf.", "top citation"):
        table.add_column(name, overflow="fold")
    for row in worst_cases(report):
        citation = top_citation(row)
        quote = Text(citation_text(citation)) if citation else Text("—", style="dim")
        if citation and not citation.get("valid"):
            quote.stylize("red")
            quote.append(" (invalid)", style="red")
        got = row.get("error") or _verdict_text(shown_decision(row), row.get("categories") or [])
        table.add_row(
            Text(str(row["case_id"])),
            Text(
                _verdict_text(str(row["expected_decision"]), row.get("expected_categories") or [])
            ),
            Text(got, style="red" if not is_correct(row) else "yellow"),
            fmt(row.get("confidence")),
            quote,
        )
    return table


def _breakdown_table(report: dict[str, Any]) -> Table:
    table = Table(title="breakdowns")
    for name in ("by", "value", "cases", "accuracy", "flag P", "flag R", "category F1"):
        table.add_column(name, justify="left" if name in ("by", "value") else "right")
    for by, groups in (report.get("breakdowns") or {}).items():
        for value, scores in groups.items():
            table.add_row(
                Text(by),
                Text(value),
                str(scores["cases"]),
                fmt(scores["decision_accuracy"]),
                fmt(scores["flag_precision"]),
                fmt(scores["flag_recall"]),
                fmt(scores["category_f1"]),
            )
    return table


def print_summary(report: dict[str, Any], console: Console) -> None:
    """Print the report's tables to `console`."""
    console.print(_overall_table(report))
    if report.get("per_category"):
        console.print(_category_table(report))
    console.print(_confusion_table(report))
    if report.get("breakdowns"):
        console.print(_breakdown_table(report))
    if worst_cases(report, limit=1):
        console.print(_worst_table(report))
    for note in report.get("notes") or []:
        console.print(Text(f"note: {note}", style="dim"))
