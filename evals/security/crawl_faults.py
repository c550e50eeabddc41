"""Crawler faults: one full review (offline engine) of each hostile path of HostileServer.

Small budgets keep the run short: 1 s per request, 3 s per crawl, 8 s per review. Each
review must end recorded and within its budget (evals/security/outcomes.py).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from evals.security.hostile import HostileServer
from evals.security.outcomes import FaultOutcome, timed_review
from merchant_review.audit_verify import verify_audit_log
from merchant_review.review import Reviewer
from merchant_review.settings import Settings
from merchant_review.storage import Store

HOST = "faults.test"
FAULTS = {
    "timeout (no answer)": "/timeout",
    "slow-loris body drip": "/drip",
    "slow-loris header drip": "/drip-head",
    "HTTP 500": "/500",
    "HTTP 503": "/503",
    "connection reset": "/reset",
    "redirect loop": "/loop-a",
    "20 MB page": "/huge",
    "gzip bomb (300 MB inflated)": "/bomb",
    "binary served as HTML": "/binary",
    "unknown charset, invalid bytes": "/bad-charset",
    "UTF-16 declared as UTF-8": "/utf16-lie",
    "malformed HTML": "/malformed",
    "50,000 nested elements": "/deep",
}
REQUEST_TIMEOUT_S = 1.0
CRAWL_BUDGET_S = 3.0
REVIEW_BUDGET_S = 8.0


@dataclass(frozen=True)
class CrawlFaultRun:
    outcomes: list[FaultOutcome]
    audit_log_ok: bool


def fault_settings(folder: Path, origin: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{folder / 'crawl-faults.db'}",
        engine="offline",
        crawl={
            "origin_overrides": {HOST: origin}, "allow_private": ["127.0.0.1"],
            "request_timeout_s": REQUEST_TIMEOUT_S, "time_budget_s": CRAWL_BUDGET_S,
            "max_pages": 4,
        },
        limits={"time_budget_s": REVIEW_BUDGET_S},
    )  # fmt: skip


async def run_crawl_faults(only: list[str] | None = None) -> CrawlFaultRun:
    """Review each fault's start URL once; outcomes in FAULTS order."""
    chosen = {name: path for name, path in FAULTS.items() if only is None or name in only}
    outcomes: list[FaultOutcome] = []
    with tempfile.TemporaryDirectory(prefix="crawl-faults-") as folder:
        async with HostileServer() as server:
            settings = fault_settings(Path(folder), server.origin)
            store = Store(settings.database_url)
            async with Reviewer(settings, store) as reviewer:
                for name, path in chosen.items():
                    url = f"http://{HOST}{path}"
                    # The review's wall time, plus slack for the bookkeeping.
                    budget = REVIEW_BUDGET_S + 2.0

                    async def review(url: str = url):  # type: ignore[no-untyped-def]
                        return await reviewer.review_url(url)

                    outcome, verdict = await timed_review(name, budget, store, review)
                    if verdict is not None:
                        outcome.details = _page_details(store, verdict.review_id or "")
                    outcomes.append(outcome)
        return CrawlFaultRun(outcomes, verify_audit_log(store).ok)


def _page_details(store: Store, review_id: str) -> dict[str, str]:
    """The start page's error (or status) and size, as stored."""
    stored = store.get_review(review_id)
    if stored is None:
        return {}
    pages = stored.page_snapshots()
    if not pages:
        return {"page": "none stored"}
    page = pages[0]
    summary = page.error or f"HTTP {page.status}"
    return {"page": summary, "bytes": str(page.bytes), "truncated": str(page.truncated)}
