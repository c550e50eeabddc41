"""End to end in headless Chromium (Playwright): a real uvicorn server on 127.0.0.1 over a
database seeded with real reviews. An analyst logs in, works the queue, reads a review's
evidence, overrides it and sees the override in the history; a screenshot of every page
goes to test-artifacts/ for a person to look at.

Playwright drives Debian's Chromium at /usr/bin/chromium (never a downloaded browser):
these tests are skipped, saying so, where it is not installed.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from tests.webdata import ANALYST, ANALYST_PASSWORD, SCRIPT_QUOTE, VIEWER, VIEWER_PASSWORD, Seeded

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
THC_QUOTE = "Each gummy contains 25 mg THC from premium indica flower."

if not CHROMIUM.exists():
    pytest.skip(
        "browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")
Browser, Page, expect = sync_api.Browser, sync_api.Page, sync_api.expect

pytest_plugins = ["tests.webfixtures"]


@pytest.fixture
def live_url(web_app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn in a thread, on an ephemeral 127.0.0.1 port.

    The socket listens before the server starts, so the browser's first request simply
    waits in the backlog: no polling for readiness.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(web_app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context; fails the test on any console error or script dialog."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    opened.on("dialog", lambda d: problems.append(f"dialog: {d.message}"))
    yield opened
    context.close()
    assert problems == []  # e.g. a CSP violation, or a merchant's script that ran


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)


def log_in(page: Page, base: str, user: str, password: str) -> None:
    page.goto(f"{base}/queue")
    expect(page).to_have_url(re.compile(r"/login\?next=/queue$"))
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=re.compile("Review queue"))).to_be_visible()


def test_an_analyst_works_a_review_from_the_queue_to_an_override(
    page: Page, live_url: str, seeded: Seeded
) -> None:
    page.goto(f"{live_url}/queue")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    shot(page, "01-login")
    log_in(page, live_url, ANALYST, ANALYST_PASSWORD)
    expect(page.get_by_text("reject awaiting confirmation").first).to_be_visible()
    shot(page, "02-queue")

    review_id = seeded.reviews["demo_greenleaf"]
    page.locator(f'a[href="/reviews/{review_id}"]').click()
    quote = page.locator("blockquote.context mark", has_text=THC_QUOTE)
    expect(quote).to_be_visible()
    expect(page.locator(".rule strong", has_text="THC and marijuana products")).to_be_visible()
    expect(page.get_by_text("✔ intact")).to_be_visible()
    shot(page, "03-review")

    page.get_by_role("link", name="stored page snapshot").first.click()
    expect(page.locator(".pagetext mark", has_text=THC_QUOTE)).to_be_visible()
    shot(page, "04-snapshot")
    page.go_back()

    page.get_by_label("Decision").select_option("reject")
    page.get_by_label("Reason (required)").fill("Confirmed: THC gummies on the product page.")
    page.get_by_role("button", name="Record decision").click()
    history = page.locator("#history")
    expect(history.get_by_text("Confirmed: THC gummies on the product page.")).to_be_visible()
    expect(history.get_by_text(ANALYST, exact=True)).to_be_visible()
    expect(page.get_by_text("(confirmed)")).to_be_visible()
    shot(page, "05-override")

    page.get_by_role("link", name="demo_greenleaf").first.click()
    expect(page.locator("table").get_by_text(f"by {ANALYST}")).to_be_visible()
    shot(page, "06-merchant-history")
    page.goto(f"{live_url}/queue")
    expect(page.locator(f'a[href="/reviews/{review_id}"]')).to_have_count(0)


def test_an_analyst_starts_a_review_and_sees_its_result(page: Page, live_url: str) -> None:
    log_in(page, live_url, ANALYST, ANALYST_PASSWORD)
    page.goto(f"{live_url}/merchants/demo_lantern")
    page.get_by_role("button", name="Start a new review").click()
    expect(page.get_by_role("heading", name=re.compile("Review of"))).to_be_visible()
    # the job page refreshes itself until the review is done
    expect(page.get_by_role("link", name="Open the review")).to_be_visible(timeout=60_000)
    shot(page, "07-job-done")
    page.get_by_role("link", name="Open the review").click()
    expect(page.locator("blockquote.context mark").first).to_be_visible()
    expect(page.get_by_text("web", exact=True)).to_be_visible()  # the trigger
    shot(page, "08-new-review")


def test_merchant_markup_never_runs(page: Page, live_url: str, seeded: Seeded) -> None:
    log_in(page, live_url, ANALYST, ANALYST_PASSWORD)
    page.goto(f"{live_url}/reviews/{seeded.reviews['evil_shop']}")
    expect(page.locator("blockquote.context mark")).to_have_text(SCRIPT_QUOTE)
    expect(page.locator("script")).to_have_count(0)
    shot(page, "09-script-quote")
    page.get_by_role("link", name="stored page snapshot").click()
    expect(page.locator(".pagetext").first).to_contain_text("<img src=x onerror=alert(2)>")
    expect(page.locator(".pagetext img")).to_have_count(0)
    shot(page, "10-script-snapshot")


def test_a_viewer_reads_but_gets_no_forms(page: Page, live_url: str, seeded: Seeded) -> None:
    log_in(page, live_url, VIEWER, VIEWER_PASSWORD)
    page.goto(f"{live_url}/reviews/{seeded.reviews['demo_luxe']}")
    expect(page.locator("blockquote.context mark").first).to_be_visible()
    expect(page.get_by_role("button", name="Record decision")).to_have_count(0)
    page.goto(f"{live_url}/merchants/demo_luxe")
    expect(page.get_by_text("Viewers cannot start reviews.")).to_be_visible()
    shot(page, "11-viewer-merchant")


def test_eval_reports_and_their_comparison(page: Page, live_url: str) -> None:
    log_in(page, live_url, VIEWER, VIEWER_PASSWORD)
    page.get_by_role("link", name="Eval reports").click()
    expect(page.get_by_role("link", name="baseline.html")).to_be_visible()
    shot(page, "12-reports")
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_text("McNemar exact p")).to_be_visible()
    shot(page, "13-compare")
    page.goto(f"{live_url}/reports/files/baseline.html")
    expect(page.locator("body")).to_contain_text("decision accuracy")
    shot(page, "14-report")
