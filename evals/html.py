"""A self-contained HTML page for a report: inline CSS and SVG, no scripts, no external assets.

Everything that came from a merchant's site (quotes, URLs, record values) is escaped by
jinja2's autoescaping; a URL becomes a link only when it is http(s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from evals.metrics import DECISION_LABELS, PREDICTED_LABELS
from evals.summary import fmt, headline_rows, is_correct, shown_decision, worst_cases

TEMPLATES = Path(__file__).parent / "templates"
PLOT = {"left": 48.0, "top": 16.0, "size": 300.0}
"""Reliability diagram geometry (SVG user units): plot origin and side of the square."""


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    return env


def safe_href(url: Any) -> str | None:
    """The URL if it is an absolute http(s) URL (safe to link), else None."""
    text = str(url or "")
    return text if urlsplit(text).scheme in ("http", "https") else None


def _bar(row: dict[str, Any], left: float, top: float, size: float) -> dict[str, Any]:
    accuracy = row["accuracy"] or 0.0
    width = (row["upper"] - row["lower"]) * size
    x = left + row["lower"] * size
    height = accuracy * size
    confidence = row["mean_confidence"]
    geometry = {
        "x": x + 1,
        "width": width - 2,
        "y": top + size - height,
        "height": height,
        "label_x": x + width / 2,
        "label_y": top + size - height - 4,
        "confidence_y": None if confidence is None else top + size - confidence * size,
    }
    title = (
        f"{row['lower']:.1f}–{row['upper']:.1f}: {row['count']} case(s), "
        f"accuracy {fmt(row['accuracy'])}, mean confidence {fmt(confidence)}"
    )
    rounded = {k: None if v is None else round(v, 2) for k, v in geometry.items()}
    return {**rounded, "count": row["count"], "title": title}


def reliability_view(report: dict[str, Any]) -> dict[str, Any]:
    """Coordinates for the reliability diagram's bars (non-empty bins) and axes."""
    left, top, size = PLOT["left"], PLOT["top"], PLOT["size"]
    bars = [_bar(row, left, top, size) for row in report.get("reliability") or [] if row["count"]]
    ticks = [{"value": v, "x": left + v * size, "y": top + size - v * size} for v in (0, 0.5, 1)]
    return {"left": left, "top": top, "size": size, "bars": bars, "ticks": ticks}


def _cell_view(count: int, diagonal: bool, peak: int) -> dict[str, Any]:
    alpha = round(0.12 + 0.6 * count / peak, 3) if count else 0.0
    return {"count": count, "diagonal": diagonal, "alpha": alpha}


def _confusion_view(report: dict[str, Any]) -> list[dict[str, Any]]:
    matrix = report.get("confusion_matrix") or {}
    peak = max((n for row in matrix.values() for n in row.values()), default=0) or 1
    return [
        {
            "expected": expected,
            "cells": [
                _cell_view(matrix.get(expected, {}).get(label, 0), label == expected, peak)
                for label in PREDICTED_LABELS
            ],
        }
        for expected in DECISION_LABELS
    ]


def _citation_view(citation: dict[str, Any]) -> dict[str, Any]:
    record = citation.get("kind") == "record"
    return {
        "record": record,
        "text": citation.get("value" if record else "quote", ""),
        "where": citation.get("field" if record else "url", ""),
        "href": None if record else safe_href(citation.get("url")),
        "valid": bool(citation.get("valid")),
    }


def _case_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "case_id": row["case_id"],
        "expected": row["expected_decision"],
        "expected_categories": row.get("expected_categories") or [],
        "decision": shown_decision(row),
        "categories": row.get("categories") or [],
        "confidence": row.get("confidence"),
        "seconds": row.get("seconds"),
        "error": row.get("error"),
        "correct": is_correct(row),
        "citations": [_citation_view(c) for c in row.get("citations") or []],
    }


def _ordered_cases(report: dict[str, Any]) -> list[dict[str, Any]]:
    worst = worst_cases(report, limit=None)
    seen = {row["case_id"] for row in worst}
    return worst + [row for row in report["per_case"] if row["case_id"] not in seen]


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        report=report,
        headline=headline_rows(report),
        reliability=reliability_view(report),
        labels=PREDICTED_LABELS,
        confusion=_confusion_view(report),
        per_category=report.get("per_category") or {},
        breakdowns=report.get("breakdowns") or {},
        cases=[_case_view(row) for row in _ordered_cases(report)],
    )


def write_html(report: dict[str, Any], path: Path) -> None:
    """Write `render_html(report)` to `path`, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
