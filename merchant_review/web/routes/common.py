"""Helpers the page routes share: rendering a template with the login, redirects."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from merchant_review.web.accounts import LoginSession
from merchant_review.web.state import app_state


def render(
    request: Request,
    template: str,
    login: LoginSession | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A page: the template with the user and the CSRF token its forms must carry."""
    context = {
        "login": login,
        "user": login.user if login else None,
        "csrf_token": login.csrf_token if login else "",
        **values,
    }
    return app_state(request).templates.TemplateResponse(
        request, template, context, status_code=status_code
    )


def see_other(url: str) -> RedirectResponse:
    """Redirect after a POST (the browser follows with a GET)."""
    return RedirectResponse(url, status_code=303)


def with_params(request: Request, **changes: Any) -> str:
    """The current page's path and query with some parameters replaced."""
    params = dict(request.query_params)
    params.update({key: str(value) for key, value in changes.items()})
    url = request.url.replace_query_params(**params)
    return f"{url.path}?{url.query}" if url.query else url.path
