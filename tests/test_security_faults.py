"""Fault suite: hostile web servers and misbehaving model servers, full reviews.

Every review must end with a recorded verdict (a decision, or escalate with its reason)
within its time budget, without raising, with an audit row for every model request and
the audit log's hash chains intact.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Iterator

import pytest

from evals.security.crawl_faults import FAULTS, CrawlFaultRun, run_crawl_faults
from evals.security.hostile import HostileServer
from evals.security.model_faults import SCRIPTS, ModelFaultRun, run_model_faults
from evals.security.outcomes import FaultOutcome
from merchant_review.settings import CrawlSettings
from tools.crawler import fetch_page, make_client


@pytest.fixture(scope="module")
def crawl_run() -> Iterator[CrawlFaultRun]:
    yield asyncio.run(run_crawl_faults())


@pytest.fixture(scope="module")
def model_run() -> Iterator[ModelFaultRun]:
    yield asyncio.run(run_model_faults())


def by_fault(outcomes: list[FaultOutcome]) -> dict[str, FaultOutcome]:
    return {outcome.fault: outcome for outcome in outcomes}


def test_every_crawler_fault_ends_recorded_in_time(crawl_run: CrawlFaultRun) -> None:
    assert [o.fault for o in crawl_run.outcomes] == list(FAULTS)
    assert [(o.fault, o.reason) for o in crawl_run.outcomes if not o.ok] == []
    assert crawl_run.audit_log_ok


def test_crawler_faults_become_page_errors_not_content(crawl_run: CrawlFaultRun) -> None:
    pages = {
        name: outcome.details.get("page", "")
        for name, outcome in by_fault(crawl_run.outcomes).items()
    }
    assert pages["timeout (no answer)"] == "timed out"
    assert pages["slow-loris body drip"] == "timed out"
    assert pages["slow-loris header drip"] == "timed out"
    assert pages["HTTP 500"] == "HTTP 500" and pages["HTTP 503"] == "HTTP 503"
    assert pages["connection reset"] != "HTTP 200"
    assert pages["redirect loop"] == "redirect loop"
    assert pages["binary served as HTML"].startswith("binary content")
    outcomes = by_fault(crawl_run.outcomes)
    huge = outcomes["20 MB page"].details
    assert huge["truncated"] == "True" and int(huge["bytes"]) == CrawlSettings().max_bytes_per_page
    assert outcomes["20 MB page"].decision == "escalate"  # a partial read cannot approve
    assert "byte cap" in outcomes["20 MB page"].reason
    assert int(outcomes["gzip bomb (300 MB inflated)"].details["bytes"]) <= 2_000_000
    unreadable = [
        "timeout (no answer)",
        "connection reset",
        "redirect loop",
        "binary served as HTML",
    ]
    assert all(outcomes[name].decision == "escalate" for name in unreadable)


async def test_a_gzip_bomb_is_inflated_only_up_to_the_page_cap() -> None:
    settings = CrawlSettings(allow_private=["127.0.0.1"], max_bytes_per_page=1_000_000)
    async with HostileServer() as server, make_client(settings) as client:
        tracemalloc.start()
        page = await fetch_page(
            f"{server.origin}/bomb", settings, client=client, check_robots=False
        )
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        honest = await fetch_page(
            f"{server.origin}/gzip-ok", settings, client=client, check_robots=False
        )
    assert page.bytes == 1_000_000 and page.truncated
    assert peak < 16_000_000  # inflating 64 KiB chunks unbounded would take ~64 MB at once
    assert honest.ok and "Compressed page." in honest.text


def test_every_model_fault_ends_recorded_in_time(model_run: ModelFaultRun) -> None:
    assert [o.fault for o in model_run.outcomes] == list(SCRIPTS)
    problems = [(o.fault, o.decision, o.reason, o.model_requests_sent, o.model_calls_audited)
                for o in model_run.outcomes if not o.ok]  # fmt: skip
    assert problems == []
    assert model_run.audit_log_ok


def test_model_faults_decide_only_on_verified_evidence(model_run: ModelFaultRun) -> None:
    outcomes = by_fault(model_run.outcomes)
    recovered = ["429 with Retry-After, then OK", "HTTP 500 once, then OK"]
    assert [outcomes[name].decision for name in recovered] == ["reject", "reject"]
    assert outcomes["429 with Retry-After, then OK"].elapsed_s >= 1.0  # Retry-After: 1 honoured
    others = [o for name, o in outcomes.items() if name not in recovered]
    assert {o.decision for o in others} == {"escalate"}
    assert "time budget" in outcomes["model hangs (no answer)"].reason
    assert "token cap" in outcomes["token flood"].reason
    assert "failed verification" in outcomes["invented URLs and quotes"].reason
    assert outcomes["endless tool calls"].model_requests_sent <= 6  # step budget + 2 verdicts
