"""The real protocol path: full reviews through the openai client against llama.cpp.

A llama-cpp-python server with SmolLM2-135M-Instruct runs on 127.0.0.1 (tests/llamaserver.py).
These tests check shape and robustness, not judgement: tool calls are parsed, the verdict
comes through the forced tool, a broken verdict is fed back and retried, citations are
verified (a tiny model's quotes mostly fail: the review then escalates, recorded), and
every model call's tokens and latency are in the audit log. Completions are kept short
(max_tokens) so the suite costs a few minutes of CI on 2 cores.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.llm import LLMAssessor, RetryPolicy, make_openai_client
from agent.prompts import PromptSet
from merchant_review.audit import EventKind
from merchant_review.pages import quote_in_text
from merchant_review.records import MerchantRecord
from merchant_review.review import Reviewer
from merchant_review.settings import Settings
from merchant_review.sitehost import SiteHost
from merchant_review.storage import Store
from merchant_review.storage.reads import StoredReview
from merchant_review.taxonomy import Decision
from merchant_review.verdict import PageCitation, Verdict
from tests.llamaserver import LlamaServer, llama_server, server_installed
from tests.reviewsite import HOST, SITES, thc_corpus

pytestmark = [
    pytest.mark.real_model,
    # CI installs the extra (.ci/run): there a missing server fails instead of skipping.
    pytest.mark.skipif(
        not server_installed() and not os.environ.get("CI"), reason="needs the real-model extra"
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    with llama_server(tmp_path_factory.mktemp("llama")) as running:
        yield running


@pytest.fixture
def host() -> Iterator[SiteHost]:
    with SiteHost({HOST: SITES / HOST}) as running:
        yield running


async def review(
    server: LlamaServer, host: SiteHost, tmp_path: Path, **model: Any
) -> tuple[Verdict, StoredReview]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'real.db'}",
        crawl={"origin_overrides": host.origin_overrides(), "allow_private": ["127.0.0.1"]},
        limits={"time_budget_s": 900},  # a 135M model on 2 busy cores is slow, not stuck
        model={
            "name": server.model,
            "base_url": server.base_url,
            "provider": "llamacpp",
            "step_budget": 1,
            "max_retries": 1,
            "timeout_s": 300,
            **model,
        },
    )
    store = Store(settings.database_url)
    store.import_merchants(
        [MerchantRecord(merchant_id="m1", website=f"https://{HOST}/", dba="Greenleaf")]
    )
    assessor = LLMAssessor(
        make_openai_client(settings.model),
        settings.model,
        PromptSet.load(),
        retry=RetryPolicy.no_wait(),
    )
    async with Reviewer(settings, store, assessor=assessor, corpus=thc_corpus()) as reviewer:
        verdict = await reviewer.review_merchant("m1")
    stored = store.get_review(verdict.review_id or "")
    assert stored is not None
    return verdict, stored


def model_calls(stored: StoredReview) -> list[Any]:
    return [e for e in stored.events if e.kind == EventKind.MODEL_CALL.value]


def requests(stored: StoredReview) -> list[dict[str, Any]]:
    return [call.input["extra"]["request"] for call in model_calls(stored)]


async def test_a_full_review_through_the_real_server(
    server: LlamaServer, host: SiteHost, tmp_path: Path
) -> None:
    verdict, stored = await review(server, host, tmp_path, max_tokens=160)
    assert verdict.error is None, verdict.error
    calls = model_calls(stored)
    assert verdict.usage.llm_calls == len(calls) >= 1
    for call in calls:  # tokens (the server's usage field) and latency, per call
        assert call.error is None, call.error
        assert call.prompt_tokens and call.prompt_tokens > 500
        assert call.completion_tokens and call.latency_ms and call.latency_ms > 0
    assert sum(c.prompt_tokens or 0 for c in calls) == verdict.usage.prompt_tokens
    # The model may submit in its investigation turn; otherwise the verdict is forced.
    forced = [c for c in calls if c.input["value"]["purpose"] != "agent_step"]
    assert all(
        c.input["value"]["tool_choice"]["function"]["name"] == "submit_verdict" for c in forced
    )
    # The answer that ended the review was parsed into a submit_verdict tool call.
    assert calls[-1].output["value"]["tool_calls"][0]["name"] == "submit_verdict"
    # Whatever the tiny model cited, only quotes standing on the fetched pages count.
    texts = {p.url: p.citable_text() for p in stored.page_snapshots()}
    for citation in verdict.citations():
        if isinstance(citation, PageCitation):
            assert quote_in_text(citation.quote, texts.get(citation.url, ""))
    if verdict.rejected_findings or not verdict.findings:
        assert verdict.decision in (Decision.ESCALATE, Decision.APPROVE)


async def test_a_broken_verdict_is_fed_back_then_the_review_escalates(
    server: LlamaServer, host: SiteHost, tmp_path: Path
) -> None:
    # 24 tokens cut every verdict short: invalid JSON, sent back once, then escalate.
    verdict, stored = await review(server, host, tmp_path, max_tokens=24)
    assert verdict.decision is Decision.ESCALATE
    assert any("invalid after retry" in reason for reason in verdict.reasons), verdict.reasons
    calls = model_calls(stored)
    # The first verdict (offered in the investigation turn or forced) failed validation;
    # the retry is forced through the tool and parsed as a submit_verdict call.
    retried = calls[-1]
    assert retried.input["value"]["purpose"] == "verdict_retry"
    assert retried.input["value"]["tool_choice"]["function"]["name"] == "submit_verdict"
    assert retried.output["value"]["tool_calls"][0]["name"] == "submit_verdict"
    assert all(c.error is None for c in calls)  # the server accepted every conversation
    retry = requests(stored)[-1]["messages"]
    fed_back = [m for m in retry if m["role"] == "tool" and "could not be accepted" in m["content"]]
    assert len(fed_back) == 1
    # The assistant turn carrying the broken tool call went back with content "" (not null).
    carrier = [m for m in retry if m["role"] == "assistant" and m.get("tool_calls")]
    assert carrier and all(m["content"] == "" for m in carrier)


async def test_the_json_object_mode_returns_schema_shaped_json(
    server: LlamaServer, host: SiteHost, tmp_path: Path
) -> None:
    # 24 tokens cut every verdict short, so at least the retry goes through JSON mode.
    verdict, stored = await review(server, host, tmp_path, max_tokens=24, verdict_via="json_object")
    json_mode = [c for c in model_calls(stored) if "response_format" in c.input["extra"]["request"]]
    assert json_mode
    for call in json_mode:
        request = call.input["extra"]["request"]
        assert "tools" not in request and request["response_format"]["type"] == "json_object"
        assert call.error is None  # honoured: json_object with a schema
        assert str(call.output["value"]["content"]).lstrip().startswith("{")
    assert verdict.decision is Decision.ESCALATE  # cut short twice: no usable verdict
