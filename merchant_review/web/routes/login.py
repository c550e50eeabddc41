"""The login form, logging in and out."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from merchant_review.web.accounts import LoginSession
from merchant_review.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    form_session,
    safe_next,
)
from merchant_review.web.credentials import new_secret, same
from merchant_review.web.routes.common import render, see_other
from merchant_review.web.state import app_state

router = APIRouter(include_in_schema=False)


def _login_form(
    request: Request, next_url: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    """The form, with a fresh double-submit CSRF token in a cookie and a hidden field."""
    token = new_secret()
    response = render(
        request,
        "login.html.j2",
        None,
        status_code,
        login_csrf=token,
        next_url=safe_next(next_url),
        error=error,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=app_state(request).web.cookie_secure,
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/queue") -> HTMLResponse:
    """The login form."""
    return _login_form(request, next)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/queue",
) -> Response:
    """Check the CSRF token and the password; open a session on success."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not same(cookie, csrf_token):
        return _login_form(request, next, "The form expired: please log in again.", 403)
    state = app_state(request)
    user = state.accounts.authenticate(username, password)
    if user is None:
        return _login_form(request, next, "Wrong user name or password.", 401)
    lifetime = timedelta(hours=state.web.session_hours)
    session_id = state.accounts.start_session(user, lifetime)
    response = see_other(safe_next(next))
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=state.web.cookie_secure,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request, login: Annotated[LoginSession, Depends(form_session)]
) -> RedirectResponse:
    """End the session (CSRF-checked, so no other site can log a user out)."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    app_state(request).accounts.end_session(session_id)
    response = see_other("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
