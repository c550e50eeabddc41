"""Per-review resource caps (merchant_review/limits.py, agent/budget.py): model calls,
tokens, wall time and agent page fetches, enforced through the whole review graph.

The crawl's own caps (pages, depth, bytes per page and in total, its time budget) are
tested in tests/test_crawler.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agent.budget import BudgetExceeded, ReviewBudget
from agent.llm import LLMAssessor, RetryPolicy
from agent.prompts import PromptSet
from agent.scripted import ScriptedModel
from evals.security.hostile import HostileServer
from evals.security.injection import SITE, honest_verdict, served
from merchant_review.audit import AuditEvent, EventKind
from merchant_review.limits import ReviewLimits
from merchant_review.review import Reviewer
from merchant_review.settings import CrawlSettings, ModelSettings, Settings
from merchant_review.sitehost import SiteHost
from merchant_review.storage import Store
from merchant_review.verdict import Verdict
from tools.crawler import crawl_site


async def review(
    tmp_path: Path,
    model: ScriptedModel,
    limits: dict[str, Any],
    **model_changes: Any,
) -> tuple[Verdict, Store]:
    with served([]) as (host, hosts):
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'limits.db'}",
            engine="llm",
            crawl={"origin_overrides": host.origin_overrides(), "allow_private": ["127.0.0.1"],
                   "max_pages": 1},
            model={"name": "m", "base_url": "http://model.invalid/v1", **model_changes},
            limits=limits,
        )  # fmt: skip
        store = Store(settings.database_url)
        assessor = LLMAssessor(
            model.client(), ModelSettings(**settings.model.model_dump()), PromptSet.load(),
            retry=RetryPolicy.no_wait(),
        )  # fmt: skip
        async with Reviewer(settings, store, assessor=assessor) as reviewer:
            return await reviewer.review_url(f"https://{hosts['clean']}/"), store


def model_calls(store: Store, verdict: Verdict) -> int:
    stored = store.get_review(verdict.review_id or "")
    assert stored is not None and stored.verdict is not None
    return sum(1 for event in stored.events if event.kind == EventKind.MODEL_CALL.value)


async def test_the_model_call_cap_stops_an_endless_tool_loop(tmp_path: Path) -> None:
    model = ScriptedModel(default=lambda _r: ScriptedModel.tool_call("list_pages", {}))
    verdict, store = await review(tmp_path, model, {"max_model_calls": 5}, step_budget=50)
    assert len(model.requests) == 5 == model_calls(store, verdict)
    assert verdict.decision.value == "escalate"
    assert any("model call cap reached (5 calls)" in reason for reason in verdict.reasons)
    assert verdict.usage.llm_calls == 5


async def test_the_token_cap_stops_the_review_before_the_next_call(tmp_path: Path) -> None:
    heavy = ScriptedModel.tool_call("list_pages", {})
    heavy = type(heavy)(tool_calls=heavy.tool_calls, usage=(4_000, 1_000))
    model = ScriptedModel(default=lambda _r: heavy)
    verdict, store = await review(tmp_path, model, {"max_tokens": 12_000}, step_budget=50)
    assert len(model.requests) == 3  # 5,000 tokens a call: the fourth would pass 12,000
    assert any("token cap reached (15000 of 12000 tokens)" in r for r in verdict.reasons)
    assert verdict.usage.tokens == 15_000 and model_calls(store, verdict) == 3


async def test_the_wall_time_budget_cuts_off_a_slow_model(tmp_path: Path) -> None:
    model = ScriptedModel(default=lambda _r: ScriptedModel.text("thinking"), delay_s=60)
    started = asyncio.get_running_loop().time()
    verdict, store = await review(tmp_path, model, {"time_budget_s": 1.5})
    assert asyncio.get_running_loop().time() - started < 10
    assert any("review time budget used up (1.5 s)" in r for r in verdict.reasons)
    assert model_calls(store, verdict) == 1  # the cancelled request keeps its audit row


async def test_the_agent_fetch_cap_holds(tmp_path: Path) -> None:
    root = f"https://clean.{SITE}/"  # served([]) names the clean site so
    pages = [f"{root}shop/night.html", f"{root}about.html"]  # neither crawled (max_pages 1)

    def fetch_both_then_submit(request: dict[str, Any]) -> Any:
        if any(m.get("role") == "tool" for m in request["messages"]):
            return ScriptedModel.always_submit(**honest_verdict(pages[0]))(request)
        return ScriptedModel.tool_calls(*[("fetch_page", {"url": url}) for url in pages])

    model = ScriptedModel(default=fetch_both_then_submit)
    verdict, _store = await review(tmp_path, model, {"max_agent_fetches": 1})
    tool_messages = [m for m in model.requests[1]["messages"] if m["role"] == "tool"]
    results = [json.loads(m["content"]) for m in tool_messages]
    assert results[0].get("status") == 200
    assert results[1] == {"error": "page fetch budget exhausted"}
    assert verdict.decision.value == "reject"


def test_limits_are_settings() -> None:
    settings = Settings(database_url="sqlite://", limits={"max_tokens": 5_000})
    assert settings.limits.max_tokens == 5_000
    assert Settings(database_url="sqlite://").limits == ReviewLimits()
    with pytest.raises(ValueError):
        ReviewLimits(max_model_calls=0)


async def test_a_budget_counts_audited_model_calls_and_checks_time() -> None:
    budget = ReviewBudget(ReviewLimits(max_model_calls=2), seconds=60)
    event = AuditEvent(
        kind=EventKind.MODEL_CALL, name="chat", prompt_tokens=10, completion_tokens=5
    )
    budget.check()
    budget.spent(event)
    budget.spent(AuditEvent(kind=EventKind.TOOL_CALL, name="list_pages"))
    budget.check()
    budget.spent(event)
    with pytest.raises(BudgetExceeded, match="model call cap"):
        budget.check()
    assert budget.usage.tokens == 30
    with pytest.raises(BudgetExceeded, match="time budget"):
        ReviewBudget(ReviewLimits(), seconds=0).check()


async def test_agent_fetches_share_the_crawl_byte_budget(tmp_path: Path) -> None:
    """Crawl (the start page) and agent fetches together stay within max_total_bytes."""
    site = tmp_path / "site"
    (site / "p").mkdir(parents=True)
    (site / "index.html").write_text("<html><body><p>Start page of the shop.</p></body></html>")
    for name in ("a", "b", "c"):
        (site / "p" / f"{name}.html").write_text(f"<html><body><p>{name * 600}</p></body></html>")
    urls = [f"https://bytes.test/p/{name}.html" for name in ("a", "b", "c")]

    def fetch_all(request: dict[str, Any]) -> Any:
        if any(m.get("role") == "tool" for m in request["messages"]):
            return ScriptedModel.always_submit(**honest_verdict(urls[0]))(request)
        return ScriptedModel.tool_calls(*[("fetch_page", {"url": url}) for url in urls])

    model = ScriptedModel(default=fetch_all)
    with SiteHost({"bytes.test": site}) as host:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'bytes.db'}",
            engine="llm",
            crawl={"origin_overrides": host.origin_overrides(), "allow_private": ["127.0.0.1"],
                   "max_pages": 1, "max_total_bytes": 1_000, "respect_robots": False},
            model={"name": "m", "base_url": "http://model.invalid/v1"},
        )  # fmt: skip
        store = Store(settings.database_url)
        assessor = LLMAssessor(
            model.client(), ModelSettings(**settings.model.model_dump()), PromptSet.load(),
            retry=RetryPolicy.no_wait(),
        )  # fmt: skip
        async with Reviewer(settings, store, assessor=assessor) as reviewer:
            verdict = await reviewer.review_url("https://bytes.test/")
    stored = store.get_review(verdict.review_id or "")
    assert stored is not None and stored.crawl is not None
    fetched = stored.page_snapshots()
    crawl_bytes = stored.crawl.report["total_bytes"]
    agent = [page for page in fetched if page.found_via == "agent"]
    assert crawl_bytes + sum(page.bytes for page in agent) <= 1_000
    assert [page.truncated for page in agent] == [False, True]
    results = [
        json.loads(m["content"]) for m in model.requests[1]["messages"] if m["role"] == "tool"
    ]
    assert results[2] == {"error": "page byte budget exhausted"}


async def test_the_review_wall_time_also_bounds_the_crawl(tmp_path: Path) -> None:
    """A crawl budget longer than the review's is cut to the review's (a site that hangs)."""
    async with HostileServer() as server:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'hang.db'}",
            engine="offline",
            crawl={"origin_overrides": {"hang.test": server.origin},
                   "allow_private": ["127.0.0.1"], "respect_robots": False,
                   "request_timeout_s": 60.0, "time_budget_s": 60.0},
            limits={"time_budget_s": 1.0},
        )  # fmt: skip
        store = Store(settings.database_url)
        started = asyncio.get_running_loop().time()
        async with Reviewer(settings, store) as reviewer:
            verdict = await reviewer.review_url("http://hang.test/timeout")
        elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < 5  # the crawl stopped at the review's 1 s, not its own 60 s
    assert verdict.decision.value == "escalate"
    stored = store.get_review(verdict.review_id or "")
    assert stored is not None and stored.verdict is not None


async def test_the_crawl_time_budget_covers_a_hung_start_page() -> None:
    settings = CrawlSettings(
        allow_private=["127.0.0.1"], respect_robots=False,
        request_timeout_s=60.0, time_budget_s=0.5,
    )  # fmt: skip
    async with HostileServer() as server:
        started = asyncio.get_running_loop().time()
        report = await crawl_site(f"{server.origin}/timeout", settings)
        elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < 3
    assert report.stopped_because == "time_budget"
    assert [page.error for page in report.pages] == ["timed out (crawl time budget)"]
