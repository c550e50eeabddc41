"""The review page, stored page snapshots, and analysts' overrides."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from merchant_review.storage import InvalidOverride
from merchant_review.storage.reads import StoredReview
from merchant_review.taxonomy import Category, Decision
from merchant_review.web.accounts import LoginSession, User
from merchant_review.web.auth import form_analyst, page_session
from merchant_review.web.integrity import chain_status
from merchant_review.web.routes.common import render, see_other
from merchant_review.web.state import AppState, app_state
from merchant_review.web.views import review_view, snapshot_view

router = APIRouter(include_in_schema=False)
Login = Annotated[LoginSession, Depends(page_session)]


def _stored(state: AppState, review_id: str) -> StoredReview:
    stored = state.store.get_review(review_id)
    if stored is None:
        raise HTTPException(404, detail=f"no review {review_id!r}")
    return stored


def _review_page(
    request: Request,
    login: LoginSession,
    review_id: str,
    status_code: int = 200,
    **form: object,
) -> HTMLResponse:
    state = app_state(request)
    stored = _stored(state, review_id)
    view = review_view(stored, state.corpus(), chain_status(state.store, stored))
    values = {"error": None, "reason": "", "chosen": [], "decision": None, **form}
    return render(request, "review.html.j2", login, status_code, view=view, form=values)


@router.get("/reviews/{review_id}")
def review_page(request: Request, login: Login, review_id: str) -> HTMLResponse:
    """Verdict, findings with their rules and quotes in context, costs, audit status."""
    return _review_page(request, login, review_id)


@router.get("/reviews/{review_id}/pages/{seq}")
def snapshot_page(request: Request, login: Login, review_id: str, seq: int) -> HTMLResponse:
    """The stored extracted text of one fetched page (never the merchant's HTML)."""
    stored = _stored(app_state(request), review_id)
    view = snapshot_view(stored, seq)
    if view is None:
        raise HTTPException(404, detail=f"review {review_id} has no stored page #{seq}")
    return render(request, "snapshot.html.j2", login, snap=view)


@router.post("/reviews/{review_id}/overrides")
def override_page(
    request: Request,
    review_id: str,
    user: Annotated[User, Depends(form_analyst)],
    login: Login,
    decision: Annotated[Decision, Form()],
    reason: Annotated[str, Form(max_length=4000)] = "",
    categories: Annotated[list[Category] | None, Form()] = None,
) -> Response:
    """Record the analyst's decision with a reason; back to the review on success."""
    state = app_state(request)
    stored = _stored(state, review_id)
    try:
        state.store.add_override(
            stored.review.id,
            decision=decision,
            reason=reason,
            analyst=user.name,
            categories=categories or None,
        )
    except InvalidOverride as exc:
        chosen = [c.value for c in categories or []]
        return _review_page(
            request, login, review_id, 400, error=str(exc), reason=reason, chosen=chosen,
            decision=decision.value,
        )  # fmt: skip
    return see_other(f"/reviews/{stored.review.id}#history")
