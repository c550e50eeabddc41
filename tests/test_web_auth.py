"""Authentication and authorisation of the web app: tokens, logins, roles, CSRF, headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from merchant_review.cli import app as cli_app
from merchant_review.storage import Store
from merchant_review.web.accounts import AccountError, Accounts, Role
from merchant_review.web.credentials import digest
from tests.dbtools import query
from tests.webdata import (
    ANALYST,
    ANALYST_PASSWORD,
    VIEWER,
    VIEWER_PASSWORD,
    Seeded,
    bearer,
    csrf_token,
    log_in,
)

pytest_plugins = ["tests.webfixtures"]
runner = CliRunner()


# -- the API: Bearer tokens ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/queue"),
        ("GET", "/api/reviews/abc"),
        ("POST", "/api/reviews"),
        ("POST", "/api/reviews/abc/overrides"),
        ("GET", "/api/review-jobs/abc"),
        ("GET", "/openapi.json"),
    ],
)
def test_the_api_refuses_calls_without_a_token(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, json={})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_api_refuses_a_wrong_or_revoked_token(
    client: TestClient, seeded: Seeded, web_db: str
) -> None:
    assert client.get("/api/queue", headers=bearer("mrt_not-a-token")).status_code == 401
    assert client.get("/api/queue", headers=bearer(seeded.viewer_token)).status_code == 200
    store = Store(web_db)
    assert Accounts(store).revoke_token(seeded.viewer_token[:12]) == 1
    store.close()
    assert client.get("/api/queue", headers=bearer(seeded.viewer_token)).status_code == 401


def test_the_api_ignores_a_session_cookie(client: TestClient) -> None:
    assert log_in(client, ANALYST, ANALYST_PASSWORD).status_code == 303
    assert client.get("/api/queue").status_code == 401  # cookies never authenticate the API


def test_a_viewer_cannot_override_or_start_reviews_through_the_api(
    client: TestClient, seeded: Seeded
) -> None:
    review_id = seeded.reviews["demo_greenleaf"]
    override = client.post(
        f"/api/reviews/{review_id}/overrides",
        json={"decision": "approve", "reason": "viewer tries"},
        headers=bearer(seeded.viewer_token),
    )
    assert override.status_code == 403
    assert override.json()["detail"] == "the analyst role is required"
    started = client.post(
        "/api/reviews", json={"merchant_id": "demo_bakery"}, headers=bearer(seeded.viewer_token)
    )
    assert started.status_code == 403
    review = client.get(f"/api/reviews/{review_id}", headers=bearer(seeded.viewer_token)).json()
    assert review["overrides"] == []


# -- pages: login sessions -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/queue", "/merchants", "/merchants/demo_bakery", "/reports", "/reviews/x"]
)
def test_pages_redirect_to_the_login_form_without_a_session(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


def test_logging_in_opens_a_session_and_returns_to_the_page_asked_for(client: TestClient) -> None:
    response = log_in(client, VIEWER, VIEWER_PASSWORD, next_url="/merchants")
    assert response.status_code == 303
    assert response.headers["location"] == "/merchants"
    cookie = response.headers["set-cookie"]
    assert "mr_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = client.get("/merchants")
    assert page.status_code == 200 and "demo_bakery" in page.text


def test_a_wrong_password_or_unknown_user_is_refused(client: TestClient) -> None:
    for user, password in [(ANALYST, "wrong-password"), ("nobody", ANALYST_PASSWORD)]:
        response = log_in(client, user, password)
        assert response.status_code == 401
        assert "Wrong user name or password." in response.text
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_login_only_redirects_within_the_app(client: TestClient) -> None:
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example"]:
        response = log_in(client, VIEWER, VIEWER_PASSWORD, next_url=target)
        assert response.headers["location"] == "/queue"


def test_a_login_post_without_its_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")  # sets the login CSRF cookie
    data = {"username": ANALYST, "password": ANALYST_PASSWORD}
    for token in ["", "forged-token"]:
        response = client.post("/login", data={**data, "csrf_token": token})
        assert response.status_code == 403
    assert "mr_session" not in client.cookies


def test_logging_out_ends_the_session(client: TestClient) -> None:
    log_in(client, ANALYST, ANALYST_PASSWORD)
    session = client.cookies["mr_session"]
    token = csrf_token(client.get("/queue").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 200  # login form
    client.cookies.set("mr_session", session)  # a stolen copy of the cookie is dead too
    assert client.get("/queue", follow_redirects=False).status_code == 303


# -- pages: CSRF and roles on form posts ---------------------------------------------------


def test_form_posts_without_the_csrf_token_are_refused(client: TestClient, seeded: Seeded) -> None:
    log_in(client, ANALYST, ANALYST_PASSWORD)
    review_id = seeded.reviews["demo_greenleaf"]
    form = {"decision": "approve", "reason": "cross-site forgery"}
    for extra in [{}, {"csrf_token": "forged"}]:
        override = client.post(f"/reviews/{review_id}/overrides", data={**form, **extra})
        assert override.status_code == 403
        assert "missing or invalid CSRF token" in override.text
        started = client.post("/merchants/demo_bakery/reviews", data=extra)
        assert started.status_code == 403
        assert client.post("/logout", data=extra).status_code == 403
    assert client.get("/queue").status_code == 200  # still logged in
    review = client.get(f"/api/reviews/{review_id}", headers=bearer(seeded.viewer_token)).json()
    assert review["overrides"] == []


def test_a_viewer_cannot_override_or_start_reviews_in_the_browser(
    client: TestClient, seeded: Seeded
) -> None:
    log_in(client, VIEWER, VIEWER_PASSWORD)
    review_id = seeded.reviews["demo_greenleaf"]
    page = client.get(f"/reviews/{review_id}")
    assert "Record decision" not in page.text  # no form offered
    token = csrf_token(page.text)
    form = {"decision": "approve", "reason": "viewer tries", "csrf_token": token}
    response = client.post(f"/reviews/{review_id}/overrides", data=form)
    assert response.status_code == 403
    assert "the analyst role is required" in response.text
    assert (
        client.post("/merchants/demo_bakery/reviews", data={"csrf_token": token}).status_code == 403
    )


# -- headers and stored secrets ------------------------------------------------------------


def test_security_headers_are_set(client: TestClient, seeded: Seeded) -> None:
    log_in(client, VIEWER, VIEWER_PASSWORD)
    for response in [
        client.get("/queue"),
        client.get("/login"),
        client.get("/api/queue", headers=bearer(seeded.viewer_token)),
    ]:
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert "script-src" not in csp  # no scripts at all: default-src 'none' covers them
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"


def test_passwords_and_tokens_are_stored_hashed(seeded: Seeded, web_db: str) -> None:
    users = dict(query(web_db, "SELECT name, password_hash FROM web_users"))
    assert users[ANALYST].startswith("scrypt$16384$8$1$")
    assert ANALYST_PASSWORD not in users[ANALYST]
    assert users["ci-bot"] is None  # an API-only account cannot log in
    stored = [row[0] for row in query(web_db, "SELECT token_sha256 FROM web_api_tokens")]
    assert digest(seeded.analyst_token) in stored
    assert all(seeded.analyst_token not in value for value in stored)


def test_accounts_refuse_duplicates_and_short_passwords(web_db: str) -> None:
    store = Store(web_db)
    accounts = Accounts(store)
    with pytest.raises(AccountError, match="already exists"):
        accounts.add_user(ANALYST, Role.VIEWER, "another-password")
    with pytest.raises(AccountError, match="at least 8 characters"):
        accounts.add_user("newbie", Role.VIEWER, "short")
    with pytest.raises(AccountError, match="no user 'ghost'"):
        accounts.create_token("ghost")
    store.close()


# -- the CLI -------------------------------------------------------------------------------


def test_users_and_tokens_from_the_cli(tmp_path: Path) -> None:
    base = ["--database-url", f"sqlite:///{tmp_path / 'cli.db'}"]
    added = runner.invoke(
        cli_app, [*base, "users", "add", "olga", "--role", "analyst", "--password-stdin"],
        input="olga-password-1\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added user olga (analyst)" in added.output
    again = runner.invoke(cli_app, [*base, "users", "add", "olga", "--role", "viewer"], input="x\n")
    assert again.exit_code == 2
    assert "user 'olga' already exists" in again.output
    created = runner.invoke(cli_app, [*base, "tokens", "create", "olga", "--label", "ci"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[0]
    assert token.startswith("mrt_") and len(token) > 40
    store = Store(f"sqlite:///{tmp_path / 'cli.db'}")
    accounts = Accounts(store)
    assert accounts.token_user(token) is not None
    assert accounts.authenticate("olga", "olga-password-1") is not None
    listed = runner.invoke(cli_app, [*base, "tokens", "list"])
    assert token[:12] in listed.output and token not in listed.output
    revoked = runner.invoke(cli_app, [*base, "tokens", "revoke", token[:12]])
    assert revoked.exit_code == 0 and "revoked 1 token(s)" in revoked.output
    assert accounts.token_user(token) is None
    store.close()
