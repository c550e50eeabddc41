"""Model faults: full LLM reviews of the THC shop while the model server misbehaves.

Every fault goes through the real openai client (openai 3.x sends HTTP via httpx2) into
an `httpx2.MockTransport` handler (agent.scripted.ScriptedModel), so the client's own
parsing and error mapping are exercised; nothing listens on a port. The retry policy
honours Retry-After for real (no backoff otherwise) and the review runs under small caps
(merchant_review/limits.py), so a fault that never ends is cut off by the review budget.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from tenacity import wait_none

from agent.evidence_floor import preload
from agent.llm import LLMAssessor
from agent.llm_calls import RetryAfterWait, RetryPolicy
from agent.prompts import PromptSet
from agent.scripted import Reply, Request, ScriptedModel
from evals.security.injection import honest_verdict, served
from evals.security.outcomes import FaultOutcome, timed_review
from merchant_review.audit_verify import verify_audit_log
from merchant_review.review import Reviewer
from merchant_review.settings import ModelSettings, Settings
from merchant_review.storage import Store

REVIEW_BUDGET_S = 3.0
BOOKKEEPING_S = 2.0
Script = Callable[[str], ScriptedModel]  # the product page URL -> the misbehaving model


class _RawReply(Reply):
    """A 200 answer whose body is given as raw bytes (truncated or not JSON at all)."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        object.__setattr__(self, "_body", body)

    def response(self, request: Request, number: int) -> httpx2.Response:
        body: bytes = object.__getattribute__(self, "_body")
        return httpx2.Response(200, content=body, headers={"content-type": "application/json"})


class _Raise(Reply):
    """Raises a transport error instead of answering (a read timeout, say)."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        object.__setattr__(self, "_error", error)

    def response(self, request: Request, number: int) -> httpx2.Response:
        raise object.__getattribute__(self, "_error")


def _honest(url: str) -> Callable[[Request], Reply]:
    return ScriptedModel.always_submit(**honest_verdict(url))


def _always(reply: Reply) -> ScriptedModel:
    return ScriptedModel(default=lambda _request: reply)


def _hang(url: str) -> ScriptedModel:
    """Answers only after an hour: the review's time budget must cut it off."""
    return ScriptedModel(default=_honest(url), delay_s=3600)


def _invented(url: str) -> ScriptedModel:
    verdict = honest_verdict(url)
    invented = [
        {"kind": "page", "url": "https://elsewhere.test/terms", "quote": "We sell THC gummies."},
        {"kind": "page", "url": url.replace("night", "secret"), "quote": "500 mg THC bars"},
    ]
    verdict["findings"][0]["citations"] = invented
    return ScriptedModel(default=ScriptedModel.always_submit(**verdict))


def _truncated() -> ScriptedModel:
    body = b'{"id": "x", "object": "chat.completion", "choices": [{"index": 0, "mess'
    return _always(_RawReply(body))


def _endless_tools() -> ScriptedModel:
    """Calls a tool every turn, forced verdict or not (a server ignoring tool_choice)."""
    return _always(ScriptedModel.tool_call("list_pages", {}))


def _token_flood(url: str) -> ScriptedModel:
    """Each answer reports 200,000 tokens: the token cap stops the review."""
    flood = Reply(tool_calls=(("list_pages", "{}"),), usage=(150_000, 50_000))
    return ScriptedModel([flood, flood], default=_honest(url))


_NO_CHOICES = json.dumps(
    {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
).encode()

SCRIPTS: dict[str, Script] = {
    "429 with Retry-After, then OK": lambda url: ScriptedModel(
        [ScriptedModel.error(429, headers={"Retry-After": "1"})], default=_honest(url)
    ),
    "429 every time": lambda url: _always(ScriptedModel.error(429, {"Retry-After": "0"})),
    "HTTP 500 once, then OK": lambda url: ScriptedModel(
        [ScriptedModel.error(500)], default=_honest(url)
    ),
    "HTTP 500 every time": lambda url: _always(ScriptedModel.error(500)),
    "HTML error page (502)": lambda url: _always(
        Reply(status=502, error_message="<html><body>Bad gateway</body></html>")
    ),
    "read timeout every time": lambda url: _always(_Raise(httpx2.ReadTimeout("timed out"))),
    "model hangs (no answer)": _hang,
    "truncated JSON body": lambda url: _truncated(),
    "no choices": lambda url: _always(_RawReply(_NO_CHOICES)),
    "schema-violating verdict": lambda url: _always(
        ScriptedModel.malformed_verdict('{"findings": "lots", "decision": "approve"}')
    ),
    "verdict that is not JSON": lambda url: _always(ScriptedModel.malformed_verdict("approve!")),
    "invented URLs and quotes": _invented,
    "endless tool calls": lambda url: _endless_tools(),
    "token flood": _token_flood,
}


@dataclass(frozen=True)
class ModelFaultRun:
    outcomes: list[FaultOutcome]
    audit_log_ok: bool


def _settings(folder: Path, overrides: dict[str, str]) -> Settings:
    return Settings(
        database_url=f"sqlite:///{folder / 'model-faults.db'}",
        engine="llm",
        crawl={"origin_overrides": overrides, "allow_private": ["127.0.0.1"],
               "request_timeout_s": 2.0, "time_budget_s": 4.0},
        model={"name": "faulty", "base_url": "http://model.invalid/v1", "step_budget": 4,
               "max_retries": 2, "timeout_s": 2.0},
        limits={"time_budget_s": REVIEW_BUDGET_S, "max_tokens": 100_000},
    )  # fmt: skip


def _assessor(model: ScriptedModel, settings: Settings) -> LLMAssessor:
    retry = RetryPolicy(wait=RetryAfterWait(wait_none()))  # Retry-After for real, no backoff
    model_settings = ModelSettings(**settings.model.model_dump())
    return LLMAssessor(model.client(), model_settings, PromptSet.load(), retry=retry)


async def run_model_faults(only: list[str] | None = None) -> ModelFaultRun:
    """One LLM review per fault; outcomes in SCRIPTS order."""
    chosen = {name: script for name, script in SCRIPTS.items() if only is None or name in only}
    outcomes: list[FaultOutcome] = []
    with served([]) as (host, hosts), tempfile.TemporaryDirectory() as folder:
        settings = _settings(Path(folder), host.origin_overrides())
        preload(settings)  # loaded once per process in service: not part of a review's time
        store = Store(settings.database_url)
        site = hosts["clean"]
        for name, script in chosen.items():
            model = script(f"https://{site}/shop/night.html")
            assessor = _assessor(model, settings)
            async with Reviewer(settings, store, assessor=assessor) as reviewer:

                async def review(reviewer: Reviewer = reviewer) -> Any:
                    return await reviewer.review_url(f"https://{site}/")

                # The review's wall time plus slack for what follows it (floor, writes) on a
                # loaded 2-core machine.
                budget = REVIEW_BUDGET_S + BOOKKEEPING_S
                outcome, _ = await timed_review(name, budget, store, review)
            outcome.model_requests_sent = len(model.requests)
            outcomes.append(outcome)
        return ModelFaultRun(outcomes, verify_audit_log(store).ok)
