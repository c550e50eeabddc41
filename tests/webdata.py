"""Constants and helpers of the web-app tests (the fixtures are in tests/webfixtures.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from httpx import Response

from merchant_review.records import MerchantRecord
from merchant_review.settings import EngineChoice, Settings

DEV_SET = Path(__file__).resolve().parent.parent / "evals" / "datasets" / "dev"
ANALYST, ANALYST_PASSWORD = "ana", "analyst-password-1"
VIEWER, VIEWER_PASSWORD = "vic", "viewer-password-1"
IMG_MARKUP = "<img src=x onerror=alert(2)>"
SCRIPT_QUOTE = "<script>alert('pwned')</script> Buy 1:1 replica watches"
EVIL = MerchantRecord(
    merchant_id="evil_shop",
    website="https://evil-shop.example/",
    dba="<b>Evil</b> Shop",
    business_description="Watches",
    mcc="5944",
)


@dataclass(frozen=True)
class Seeded:
    """What the seeded database holds, for tests to refer to."""

    db: Path
    reports: Path
    reviews: dict[str, str]  # merchant id -> review id (demo merchants, evil_shop)
    eval_run_id: str
    analyst_token: str
    viewer_token: str
    service_token: str


def bearer(token: str) -> dict[str, str]:
    """Headers that authenticate an API call with `token`."""
    return {"Authorization": f"Bearer {token}"}


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF_FIELD.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def log_in(client: TestClient, user: str, password: str, next_url: str = "/queue") -> Response:
    """Log in through the form as a browser does (its CSRF token included)."""
    form = client.get("/login", params={"next": next_url})
    data = {"username": user, "password": password, "csrf_token": csrf_token(form.text)}
    return client.post("/login", data={**data, "next": next_url}, follow_redirects=False)


def offline_settings(database_url: str) -> Settings:
    """Settings that review with the offline engine on `database_url`."""
    return Settings(database_url=database_url, engine=EngineChoice.OFFLINE)
