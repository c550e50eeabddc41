"""The analyst web app: `create_app(settings)` builds it; `merchant-review serve` runs it.

Server-rendered pages (Jinja2, no scripts) for analysts, and a JSON API (Bearer tokens)
for other systems; both over the same store and audit log. See merchant_review/web/
auth.py for authentication and CSRF, headers.py for the security headers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from merchant_review.settings import Settings
from merchant_review.storage import Store
from merchant_review.web.accounts import Accounts, User
from merchant_review.web.auth import SESSION_COOKIE, LoginRequired, api_user, login_url
from merchant_review.web.config import WebSettings
from merchant_review.web.headers import SecurityHeaders
from merchant_review.web.jobs import ReviewJobs
from merchant_review.web.routes import api, login, pages, reports, reviews
from merchant_review.web.routes.common import render
from merchant_review.web.state import AppState, app_state
from merchant_review.web.templating import templates

STATIC = Path(__file__).parent / "static"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def _error_page(request: Request, code: int, detail: str) -> Response:
    """An HTML error page; the navigation shows when the browser is logged in."""
    session_id = request.cookies.get(SESSION_COOKIE)
    login = app_state(request).accounts.session(session_id) if session_id else None
    title = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
    return render(request, "error.html.j2", login, code, detail=detail, code=code, title=title)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(login_url(exc.next_url), status_code=303)


async def _http_error(request: Request, exc: Exception) -> Response:
    """JSON for the API; an HTML page (with the headers FastAPI would send) for pages."""
    assert isinstance(exc, HTTPException)
    if _is_api(request):
        return await http_exception_handler(request, exc)
    response = _error_page(request, exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})
    return response


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _is_api(request):
        return await request_validation_exception_handler(request, exc)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
    )
    return _error_page(request, 400, problems)


def _state(settings: Settings, web: WebSettings, store: Store) -> AppState:
    return AppState(
        settings=settings,
        web=web,
        store=store,
        accounts=Accounts(store),
        jobs=ReviewJobs(settings, store, web.max_concurrent_reviews),
        templates=templates(),
    )


def create_app(
    settings: Settings, web: WebSettings | None = None, *, store: Store | None = None
) -> FastAPI:
    """The web app over the database of `settings` (or the given store)."""
    web = web or WebSettings()
    owned = store is None
    state = _state(settings, web, store or Store(settings.database_url))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        state.jobs.shutdown()
        if owned:
            state.store.close()

    app = FastAPI(
        title="merchant-review",
        summary="Merchant supportability reviews: queue, evidence, overrides.",
        version="0.1.0",
        docs_url=None,  # the docs pages load scripts from a CDN: not here
        redoc_url=None,
        openapi_url=None,  # served below, behind authentication
        lifespan=lifespan,
    )
    app.state.web = state
    app.add_middleware(SecurityHeaders, hsts=web.cookie_secure)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (login, pages, reviews, reports, api):
        app.include_router(module.router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(user: Annotated[User, Depends(api_user)]) -> dict[str, Any]:
        """The OpenAPI schema of the JSON API (needs a token like the API itself)."""
        return app.openapi()

    return app
