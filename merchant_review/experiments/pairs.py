"""Champion/challenger pairs read back from the audit log, with analysts' labels.

A pair is one champion review and the challenger review that shadowed it (shadow_reviews).
Each side carries its decision, categories, citations, token use and latency; the label is
the decision that stands on the champion review when an analyst overrode or confirmed it
(analysts label the champion's verdict: it is the one that acted).

Latency is the review's time without the crawl (the sum of its recorded steps but
`crawl_website`): the challenger judges the champion's stored crawl, so including the
crawl would charge the champion alone for fetching the site.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from merchant_review.experiments.schema import ShadowReviewRow
from merchant_review.storage import Store
from merchant_review.storage.reads import standing_decision
from merchant_review.storage.schema import EventRow, OverrideRow, ReviewRow, VerdictRow

NOT_JUDGING = ("crawl_website", "shadow_of")  # steps that are not the review's judgement


@dataclass(frozen=True)
class Side:
    """One configuration's verdict in a pair."""

    review_id: str
    decision: str
    categories: list[str]
    confidence: float
    citations: list[dict[str, Any]]  # {"rule_id", "kind", "url"|"field", "quote"|"value"}
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    error: str | None
    versions: str = ""  # engine, model, prompt and corpus versions the review ran with
    model: str | None = None  # the model the review row records (prices are per model)

    def record(self) -> dict[str, Any]:
        return {
            "review_id": self.review_id,
            "decision": self.decision,
            "categories": self.categories,
            "confidence": self.confidence,
            "citations": self.citations,
            "error": self.error,
        }


@dataclass(frozen=True)
class Label:
    """The analyst's decision on the champion review (the latest override)."""

    decision: str
    categories: list[str]
    analyst: str
    at: datetime


@dataclass(frozen=True)
class Pair:
    merchant_id: str
    shadowed_at: datetime
    champion: Side
    challenger: Side
    label: Label | None

    @property
    def agree(self) -> bool:
        return self.champion.decision == self.challenger.decision


def citations(verdict: dict[str, Any]) -> list[dict[str, Any]]:
    """Every citation of the verdict's accepted findings, with the rule it supports."""
    found = []
    for finding in verdict.get("findings") or []:
        for citation in finding.get("citations") or []:
            found.append({"rule_id": finding.get("rule_id"), **citation})
    return found


def _side(
    review_id: str, verdict: VerdictRow, latency: dict[str, float], runs: dict[str, _Ran]
) -> Side:
    usage = verdict.verdict.get("usage") or {}
    ran = runs.get(review_id, _Ran("", None))
    return Side(
        review_id=review_id,
        decision=verdict.decision,
        categories=[str(c) for c in verdict.categories],
        confidence=verdict.confidence,
        citations=citations(verdict.verdict),
        llm_calls=int(usage.get("llm_calls") or 0),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        latency_ms=latency.get(review_id, 0.0),
        error=verdict.error,
        versions=ran.versions,
        model=ran.model,
    )


def _verdicts(session: Session, ids: list[str]) -> dict[str, VerdictRow]:
    rows = session.scalars(select(VerdictRow).where(VerdictRow.review_id.in_(ids)))
    return {row.review_id: row for row in rows}


@dataclass(frozen=True)
class _Ran:
    """What a review ran with, from its review row."""

    versions: str  # engine, model, prompt and corpus versions, for the report
    model: str | None  # the model alone: prices are per model


def _runs(session: Session, ids: list[str]) -> dict[str, _Ran]:
    query = select(
        ReviewRow.id,
        ReviewRow.engine,
        ReviewRow.model,
        ReviewRow.prompt_version,
        ReviewRow.corpus_version,
    ).where(ReviewRow.id.in_(ids))
    found = {}
    for review_id, engine, model, prompts, corpus in session.execute(query):
        parts = (engine, model, f"prompts {prompts}" if prompts else None, corpus)
        found[review_id] = _Ran(" ".join(part for part in parts if part), model or None)
    return found


def _latencies(session: Session, ids: list[str]) -> dict[str, float]:
    query = (
        select(EventRow.review_id, func.sum(EventRow.latency_ms))
        .where(
            EventRow.review_id.in_(ids),
            EventRow.kind == "step",
            EventRow.name.not_in(NOT_JUDGING),
        )
        .group_by(EventRow.review_id)
    )
    return {review_id: float(total or 0.0) for review_id, total in session.execute(query)}


def _labels(session: Session, ids: list[str], verdicts: dict[str, VerdictRow]) -> dict[str, Label]:
    latest: dict[str, OverrideRow] = {}
    query = select(OverrideRow).where(OverrideRow.review_id.in_(ids)).order_by(OverrideRow.seq)
    for row in session.scalars(query):
        latest[row.review_id] = row
    labels = {}
    for review_id, row in latest.items():
        final = standing_decision(verdicts[review_id], row)
        categories = [c.value for c in final.categories]
        labels[review_id] = Label(row.decision, categories, row.analyst, row.created_at)
    return labels


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def load_pairs(store: Store, config: str) -> list[Pair]:
    """Every finished pair of challenger `config`, oldest first."""
    query = (
        select(ShadowReviewRow)
        .where(ShadowReviewRow.config == config)
        .order_by(ShadowReviewRow.created_at, ShadowReviewRow.challenger_review_id)
    )
    with store.session() as session:
        shadows = list(session.scalars(query))
        verdicts: dict[str, VerdictRow] = {}
        latency: dict[str, float] = {}
        labels: dict[str, Label] = {}
        runs: dict[str, _Ran] = {}
        ids = [i for s in shadows for i in (s.champion_review_id, s.challenger_review_id)]
        for chunk in _chunks(ids):
            verdicts.update(_verdicts(session, chunk))
            latency.update(_latencies(session, chunk))
            runs.update(_runs(session, chunk))  # one read of the review rows
        champions = [s.champion_review_id for s in shadows if s.champion_review_id in verdicts]
        for chunk in _chunks(champions):
            labels.update(_labels(session, chunk, verdicts))

    def side(review_id: str) -> Side:
        return _side(review_id, verdicts[review_id], latency, runs)

    return [
        Pair(
            merchant_id=s.merchant_id,
            shadowed_at=s.created_at,
            champion=side(s.champion_review_id),
            challenger=side(s.challenger_review_id),
            label=labels.get(s.champion_review_id),
        )
        for s in shadows
        if s.champion_review_id in verdicts and s.challenger_review_id in verdicts
    ]
