"""Jinja2 for the pages: autoescaping always on, so merchant text is never markup."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from evals.summary import fmt
from merchant_review.taxonomy import DESCRIPTIONS, Category, Decision

TEMPLATES = Path(__file__).parent / "templates"


def when(value: datetime | None) -> str:
    """A moment as UTC, to the second."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def decision_label(value: object) -> str:
    return str(value or "—").replace("_", " ")


def delta(value: float | None, kind: str = "frac") -> str:
    """A metric difference with its sign."""
    if value is None:
        return "—"
    if kind == "int":
        return f"{round(value):+,}"
    return f"{value:+.3f}"


def environment() -> Environment:
    """The template environment: autoescape on for every template, undefined is an error."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["decision"] = decision_label
    env.filters["fmt"] = fmt
    env.filters["delta"] = delta
    env.globals["DECISIONS"] = [d.value for d in Decision]
    env.globals["CATEGORIES"] = [c.value for c in Category]
    env.globals["CATEGORY_TEXT"] = {c.value: text for c, text in DESCRIPTIONS.items()}
    env.globals["TIERS"] = {c.value: c.tier.value for c in Category}
    return env


def templates() -> Jinja2Templates:
    return Jinja2Templates(env=environment())
