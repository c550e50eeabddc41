"""The JSON API for other systems (Bearer tokens): start and read reviews, override, queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from merchant_review.review import ReviewInputError
from merchant_review.storage import InvalidOverride
from merchant_review.web.accounts import User
from merchant_review.web.auth import api_analyst, api_user
from merchant_review.web.queries import review_queue
from merchant_review.web.routes.params import QueueQuery
from merchant_review.web.schemas import (
    JobOut,
    OverrideIn,
    OverrideOut,
    QueueOut,
    ReviewOut,
    StartReview,
)
from merchant_review.web.state import app_state

router = APIRouter(prefix="/api", tags=["api"])
Reader = Annotated[User, Depends(api_user)]
Analyst = Annotated[User, Depends(api_analyst)]


@router.post("/reviews", status_code=status.HTTP_202_ACCEPTED)
def start_review(body: StartReview, request: Request, response: Response, user: Analyst) -> JobOut:
    """Start a review of a merchant in the background; follow it at `status_url`."""
    try:
        job = app_state(request).jobs.start(body.merchant_id, user.name, trigger="api")
    except ReviewInputError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    out = JobOut.of(job)
    response.headers["Location"] = out.status_url
    return out


@router.get("/review-jobs/{job_id}")
def review_job(
    job_id: str,
    request: Request,
    user: Reader,
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for the end")] = 0,
) -> JobOut:
    """A started review: queued, running, done (with its review id) or failed.

    With `wait`, the answer comes as soon as the review ends (or after that many seconds).
    """
    jobs = app_state(request).jobs
    job = jobs.wait(job_id, wait) if wait else jobs.get(job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such review job")
    return JobOut.of(job)


@router.get("/reviews/{review_id}")
def get_review(review_id: str, request: Request, user: Reader) -> ReviewOut:
    """A review: its verdict, the analysts' overrides and the decision that stands."""
    stored = app_state(request).store.get_review(review_id)
    if stored is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no review {review_id!r}")
    return ReviewOut.of(stored)


@router.post("/reviews/{review_id}/overrides", status_code=status.HTTP_201_CREATED)
def add_override(review_id: str, body: OverrideIn, request: Request, user: Analyst) -> OverrideOut:
    """Confirm or change a review's decision, with a reason (recorded as the token's user)."""
    store = app_state(request).store
    stored = store.get_review(review_id)
    if stored is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no review {review_id!r}")
    try:
        row = store.add_override(
            stored.review.id,
            decision=body.decision,
            reason=body.reason,
            analyst=user.name,
            categories=body.categories,
        )
    except InvalidOverride as exc:
        raise HTTPException(422, detail=str(exc)) from exc
    return OverrideOut.of(row)


@router.get("/queue")
def queue(request: Request, user: Reader, query: Annotated[QueueQuery, Query()]) -> QueueOut:
    """Reviews that need a human (see the queue page), filtered, sorted, paginated."""
    state = app_state(request)
    return QueueOut.of(review_queue(state.store, query.to_filter(state.web)))
