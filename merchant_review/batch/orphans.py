"""Reviews an earlier claimer of a batch item left behind, settled before reviewing again.

A worker that dies mid-review leaves a review in the audit log with no verdict. The next
claimer of the item closes each such review with an `escalate` verdict whose error says
it was abandoned (the audit log stays append-only: nothing is deleted), and reviews the
merchant afresh. A worker that died after its review's verdict was written, but before
the item was marked done, left a finished review: that one is adopted, not repeated. So
each item ends with exactly one real verdict from its run.
"""

from __future__ import annotations

from sqlalchemy import select

from merchant_review.batch.history import ABANDONED
from merchant_review.storage import StorageError, Store
from merchant_review.storage.schema import ReviewRow, VerdictRow
from merchant_review.taxonomy import Decision
from merchant_review.verdict import SiteStatus, Verdict


def abandoned_verdict(review: ReviewRow, run_id: str) -> Verdict:
    """The verdict that closes a review its batch worker never finished."""
    reason = f"{ABANDONED} batch run {run_id} lost the worker of this review mid-way; retried"
    return Verdict(
        merchant_id=review.merchant_id,
        website=review.website,
        decision=Decision.ESCALATE,
        categories=[],
        confidence=0.0,
        site_status=SiteStatus.UNCLEAR,
        reasons=[reason],
        engine=review.engine,
        model=review.model,
        prompt_version=review.prompt_version,
        corpus_version=review.corpus_version,
        error=reason,
        review_id=review.id,
    )


def _run_reviews(
    store: Store, run_id: str, merchant_id: str
) -> list[tuple[ReviewRow, VerdictRow | None]]:
    query = (
        select(ReviewRow, VerdictRow)
        .outerjoin(VerdictRow, VerdictRow.review_id == ReviewRow.id)
        .where(ReviewRow.batch_run_id == run_id, ReviewRow.merchant_id == merchant_id)
        .order_by(ReviewRow.started_at)
    )
    with store.session() as session:
        return [(review, verdict) for review, verdict in session.execute(query)]


def _close(store: Store, review: ReviewRow, run_id: str) -> VerdictRow | None:
    """Close an unfinished review as abandoned; its verdict if its worker finished it first."""
    try:
        store.finish_review(review.id, abandoned_verdict(review, run_id))
    except StorageError:
        stored = store.get_review(review.id)
        if stored is None or stored.verdict is None:
            raise
        return stored.verdict
    return None


def settle(store: Store, run_id: str, merchant_id: str) -> str | None:
    """Close the item's unfinished reviews; the id of a finished real review to adopt."""
    adopt = None
    for review, verdict in _run_reviews(store, run_id, merchant_id):
        if verdict is None:
            verdict = _close(store, review, run_id)
        if verdict is not None and not (verdict.error or "").startswith(ABANDONED):
            adopt = review.id
    return adopt
