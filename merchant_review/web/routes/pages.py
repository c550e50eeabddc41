"""The queue and merchant pages, and starting a review from the browser."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from merchant_review.review import ReviewInputError
from merchant_review.web.accounts import LoginSession, User
from merchant_review.web.auth import form_analyst, page_session
from merchant_review.web.queries import latest_decisions, merchant_history, review_queue
from merchant_review.web.routes.common import render, see_other, with_params
from merchant_review.web.routes.params import QueueQuery
from merchant_review.web.state import app_state

router = APIRouter(include_in_schema=False)
Login = Annotated[LoginSession, Depends(page_session)]


@router.get("/")
def home(login: Login) -> RedirectResponse:
    return see_other("/queue")


@router.get("/queue")
def queue_page(
    request: Request, login: Login, query: Annotated[QueueQuery, Query()]
) -> HTMLResponse:
    """Reviews that need a human, filtered, sorted and paginated."""
    state = app_state(request)
    page = review_queue(state.store, query.to_filter(state.web))
    return render(
        request,
        "queue.html.j2",
        login,
        queue=page,
        query=query,
        threshold=state.web.queue_confidence_threshold,
        link=lambda **changes: with_params(request, **changes),
    )


@router.get("/merchants")
def merchants_page(
    request: Request, login: Login, page: Annotated[int, Query(ge=1)] = 1
) -> HTMLResponse:
    """The merchant records, with each one's latest decision."""
    state = app_state(request)
    size = state.web.page_size
    merchants = state.store.list_merchants(size, (page - 1) * size)
    total = state.store.count_merchants()
    decisions = latest_decisions(state.store, [m.merchant_id for m in merchants])
    return render(
        request,
        "merchants.html.j2",
        login,
        merchants=merchants,
        decisions=decisions,
        page=page,
        pages=max(1, -(-total // size)),
        total=total,
    )


@router.get("/merchants/{merchant_id}")
def merchant_page(request: Request, login: Login, merchant_id: str) -> HTMLResponse:
    """A merchant's record and review history, and a button to review it again."""
    state = app_state(request)
    merchant = state.store.get_merchant(merchant_id)
    if merchant is None:
        raise HTTPException(404, detail=f"no merchant {merchant_id!r}")
    history = merchant_history(state.store, merchant_id)
    return render(
        request,
        "merchant.html.j2",
        login,
        merchant=merchant,
        record=merchant.fields(include_personal=False),
        history=history,
        timeline=list(reversed(history)),
    )


@router.post("/merchants/{merchant_id}/reviews")
def start_review_page(
    request: Request, merchant_id: str, user: Annotated[User, Depends(form_analyst)]
) -> RedirectResponse:
    """Start a review in the background; the job page shows its progress."""
    try:
        job = app_state(request).jobs.start(merchant_id, user.name, trigger="web")
    except ReviewInputError as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    return see_other(f"/jobs/{job.id}")


@router.get("/jobs/{job_id}")
def job_page(request: Request, login: Login, job_id: str) -> HTMLResponse:
    """A background review: refreshes itself until done, then shows the result."""
    job = app_state(request).jobs.get(job_id)
    if job is None:
        raise HTTPException(404, detail="no such review job (the server may have restarted)")
    return render(request, "job.html.j2", login, job=job)
