"""Disagreements for the analysts' queue (merchant_review/web/queries.py).

A champion review that an active challenger's shadow review disagrees with (another
decision) needs a human: the analyst's override or confirmation of it is the label that
decides the experiment (report.py's sequential test counts exactly these).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from merchant_review.experiments.schema import CHALLENGER, ExperimentConfigRow, ShadowReviewRow
from merchant_review.storage.schema import ReviewRow, VerdictRow


def _active() -> ColumnElement[bool]:
    return exists().where(
        ExperimentConfigRow.name == ShadowReviewRow.config, ExperimentConfigRow.role == CHALLENGER
    )


def challenger_disagrees(config: str | None = None) -> ColumnElement[bool]:
    """For a query over ReviewRow joined to its VerdictRow: a challenger decided otherwise.

    `config` limits it to that challenger (the queue's experiment filter).
    """
    shadow_verdict = aliased(VerdictRow)
    condition = (
        exists()
        .where(ShadowReviewRow.champion_review_id == ReviewRow.id)
        .where(shadow_verdict.review_id == ShadowReviewRow.challenger_review_id)
        .where(shadow_verdict.decision != VerdictRow.decision)
        .where(_active())
    )
    return condition.where(ShadowReviewRow.config == config) if config else condition


def disagreeing(session: Session, review_ids: list[str]) -> dict[str, list[str]]:
    """champion review id -> the active challengers that decided otherwise."""
    shadow_verdict, champion_verdict = aliased(VerdictRow), aliased(VerdictRow)
    query = (
        select(ShadowReviewRow.champion_review_id, ShadowReviewRow.config)
        .join(shadow_verdict, shadow_verdict.review_id == ShadowReviewRow.challenger_review_id)
        .join(champion_verdict, champion_verdict.review_id == ShadowReviewRow.champion_review_id)
        .where(
            ShadowReviewRow.champion_review_id.in_(review_ids),
            shadow_verdict.decision != champion_verdict.decision,
            _active(),
        )
    )
    found: dict[str, set[str]] = defaultdict(set)
    for review_id, config in session.execute(query):
        found[review_id].add(config)
    return {review_id: sorted(configs) for review_id, configs in found.items()}
