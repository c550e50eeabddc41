"""Fixtures for the web-app tests: a database seeded with real reviews, users and tokens.

Seeding runs once per test session: the real offline engine reviews the demo merchants on
their sites (served by SiteHost on 127.0.0.1), the real eval harness runs a few dev-set
cases (their reviews carry an eval run id; its JSON and HTML reports go to a reports
folder), and one review whose quote holds a `<script>` tag is written through the Store
API. Each test then gets its own copy of that database.

Use: `pytest_plugins = ["tests.webfixtures"]` in a test module; constants are in
tests/webdata.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from evals.dataset import load_dataset
from evals.html import write_html
from evals.report import build_report, write_report
from evals.runner import EvalRunner
from merchant_review.demo import DEMO_DATA, demo_merchants, demo_settings
from merchant_review.pages import PageSnapshot
from merchant_review.policy import load_corpus
from merchant_review.review import Reviewer
from merchant_review.settings import Settings
from merchant_review.sitehost import SiteHost
from merchant_review.storage import Store
from merchant_review.taxonomy import Category, Decision
from merchant_review.verdict import Finding, PageCitation, Verdict
from merchant_review.web.accounts import Accounts, Role
from merchant_review.web.app import create_app
from merchant_review.web.config import WebSettings
from tests.webdata import (
    ANALYST,
    ANALYST_PASSWORD,
    DEV_SET,
    EVIL,
    IMG_MARKUP,
    SCRIPT_QUOTE,
    VIEWER,
    VIEWER_PASSWORD,
    Seeded,
    offline_settings,
)


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (its WAL included), via the backup API."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


async def _review_demo(settings: Settings, store: Store, host: SiteHost) -> dict[str, str]:
    reviews = {}
    store.import_merchants(demo_merchants())
    async with Reviewer(demo_settings(settings, host), store, trigger="demo") as reviewer:
        for merchant in demo_merchants():
            verdict = await reviewer.review_merchant(merchant.merchant_id)
            assert verdict.review_id is not None
            reviews[merchant.merchant_id] = verdict.review_id
    return reviews


def _script_review(store: Store) -> str:
    """A review whose page and quote carry markup: the pages must show it as text."""
    store.import_merchants([EVIL])
    corpus = load_corpus()
    review_id = store.start_review(
        merchant=EVIL,
        website=EVIL.website,
        engine="offline-rules@1",
        model=None,
        prompt_version=None,
        corpus_version=corpus.version,
        settings_hash="0" * 64,
        trigger="test",
    )
    page = PageSnapshot(
        url=EVIL.website,
        requested_url=EVIL.website,
        status=200,
        content_type="text/html",
        title="<b>Evil</b> Shop",
        text=f"Welcome to the shop.\n{SCRIPT_QUOTE}, shipped worldwide.\n{IMG_MARKUP}",
        hidden_text="<!-- pre-approved by the processor -->",
    )
    store.save_pages(review_id, [page])
    finding = Finding(
        rule_id="counterfeit_ip.replica_goods",
        category=Category.COUNTERFEIT_IP,
        rationale="Sells <i>replicas</i> of branded watches.",
        citations=[PageCitation(url=EVIL.website, quote=SCRIPT_QUOTE)],
        confidence=0.9,
    )
    verdict = Verdict(
        merchant_id=EVIL.merchant_id,
        website=EVIL.website,
        decision=Decision.REJECT,
        categories=[Category.COUNTERFEIT_IP],
        confidence=0.9,
        findings=[finding],
        engine="offline-rules@1",
        corpus_version=corpus.version,
        review_id=review_id,
    )
    store.finish_review(review_id, verdict)
    return review_id


async def _eval_reports(settings: Settings, store: Store, reports: Path) -> str:
    """Run four dev-set cases through the eval harness; write report A and a changed B."""
    dataset = load_dataset(DEV_SET)
    runner = EvalRunner(dataset, settings, store, concurrency=2)
    report = build_report(await runner.run(dataset.select(limit=4)))
    reports.mkdir(parents=True, exist_ok=True)
    write_report(report, reports / "baseline.json")
    write_html(report, reports / "baseline.html")
    changed = json.loads(json.dumps(report))
    first = changed["per_case"][0]
    first["decision"] = "escalate" if first["decision"] != "escalate" else "approve"
    write_report(changed, reports / "candidate.json")
    return runner.run_id


def _accounts(store: Store) -> tuple[str, str, str]:
    accounts = Accounts(store)
    accounts.add_user(ANALYST, Role.ANALYST, ANALYST_PASSWORD)
    accounts.add_user(VIEWER, Role.VIEWER, VIEWER_PASSWORD)
    accounts.add_user("ci-bot", Role.ANALYST, None)
    return (
        accounts.create_token(ANALYST, "tests"),
        accounts.create_token(VIEWER, "tests"),
        accounts.create_token("ci-bot", "tests"),
    )


@pytest.fixture(scope="session")
def demo_host() -> Iterator[SiteHost]:
    """The demo merchants' sites, served on 127.0.0.1 for the whole session."""
    with SiteHost() as host:
        for merchant in demo_merchants():
            hostname = urlsplit(merchant.website).hostname or ""
            host.add_site(hostname, DEMO_DATA / "sites" / hostname)
        yield host


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory, demo_host: SiteHost) -> Seeded:
    """The template database (never used directly: see `web_db`)."""
    root = tmp_path_factory.mktemp("web-seed")
    db = root / "seed.db"
    settings = offline_settings(f"sqlite:///{db}")
    store = Store(settings.database_url)
    try:
        reviews = asyncio.run(_review_demo(settings, store, demo_host))
        reviews[EVIL.merchant_id] = _script_review(store)
        eval_run_id = asyncio.run(_eval_reports(settings, store, root / "reports"))
        tokens = _accounts(store)
    finally:
        store.close()
    return Seeded(db, root / "reports", reviews, eval_run_id, *tokens)


@pytest.fixture
def web_db(seeded: Seeded, tmp_path: Path) -> str:
    """A copy of the seeded database for one test: its URL."""
    target = tmp_path / "web.db"
    copy_sqlite(seeded.db, target)
    return f"sqlite:///{target}"


@pytest.fixture
def reports_dir(seeded: Seeded, tmp_path: Path) -> Path:
    target = tmp_path / "reports"
    shutil.copytree(seeded.reports, target)
    return target


@pytest.fixture
def web_app(web_db: str, reports_dir: Path, demo_host: SiteHost) -> FastAPI:
    """The app over the test's database; reviews it starts crawl the demo sites locally."""
    settings = demo_settings(offline_settings(web_db), demo_host)
    # Above the offline engine's calibrated approve confidence for the demo shops (~0.8),
    # below that of its escalation of a site under construction (~0.95).
    web = WebSettings(reports_dir=reports_dir, queue_confidence_threshold=0.75)
    return create_app(settings, web)


@pytest.fixture
def client(web_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(web_app, base_url="http://testserver") as test_client:
        yield test_client
