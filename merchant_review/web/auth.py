"""Who is asking: API tokens (Bearer) for /api, login sessions with CSRF for the pages.

- API: `Authorization: Bearer TOKEN`; no or a bad token is 401, a viewer acting is 403.
  The API never reads cookies, so a browser cannot be tricked into calling it.
- Pages: the session cookie (HttpOnly, SameSite=Lax) names a server-side session; without
  one a page redirects to the login form. Every form POST must carry the session's CSRF
  token (`csrf_token`), else 403. The login form itself uses a double-submit token: a
  cookie and a hidden field that must match.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from merchant_review.web.accounts import LoginSession, User
from merchant_review.web.credentials import same
from merchant_review.web.state import app_state

SESSION_COOKIE = "mr_session"
LOGIN_CSRF_COOKIE = "mr_login_csrf"
CSRF_FIELD = "csrf_token"

bearer = HTTPBearer(
    auto_error=False,
    description="An API token: `merchant-review tokens create USER` prints one.",
)


class LoginRequired(Exception):
    """A page asked for without a session: the handler redirects to the login form."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def api_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The user of a valid API token (401 otherwise)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("authentication required: send Authorization: Bearer TOKEN")
    user = app_state(request).accounts.token_user(credentials.credentials)
    if user is None:
        raise _unauthorized("invalid or revoked API token")
    return user


def api_analyst(user: Annotated[User, Depends(api_user)]) -> User:
    """An API user allowed to act (start reviews, override): 403 for a viewer."""
    if not user.is_analyst:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="the analyst role is required")
    return user


def safe_next(url: str | None) -> str:
    """A local path to go to after login (anything else goes to the queue)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return "/queue"


def login_url(next_url: str) -> str:
    return f"/login?next={quote(safe_next(next_url), safe='/')}"


def page_session(request: Request) -> LoginSession:
    """The browser's login session; no session redirects to the login form."""
    session_id = request.cookies.get(SESSION_COOKIE)
    found = app_state(request).accounts.session(session_id) if session_id else None
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return found


def page_user(login: Annotated[LoginSession, Depends(page_session)]) -> User:
    return login.user


async def form_session(
    request: Request, login: Annotated[LoginSession, Depends(page_session)]
) -> LoginSession:
    """The session of a form POST whose CSRF token matches (403 otherwise)."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not isinstance(token, str) or not same(token, login.csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="missing or invalid CSRF token")
    return login


def form_analyst(login: Annotated[LoginSession, Depends(form_session)]) -> User:
    """The analyst behind a checked form POST (403 for a viewer)."""
    if not login.user.is_analyst:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="the analyst role is required")
    return login.user
