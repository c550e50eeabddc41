"""Replay: a stored review re-run on its stored evidence, with no site and no network."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.llm import LLMAssessor, RetryPolicy
from agent.prompts import PromptSet
from agent.scripted import ScriptedModel
from merchant_review.audit import EventKind
from merchant_review.audit_verify import verify_audit_log
from merchant_review.cli import app
from merchant_review.replay import ReplayError, replay_review
from merchant_review.review import Reviewer
from merchant_review.settings import Settings
from merchant_review.sitehost import SiteHost
from merchant_review.storage import Store
from merchant_review.taxonomy import Decision
from tests.auditdata import start
from tests.auditsite import (
    HOST,
    MERCHANT,
    SITES,
    EvidenceAssessor,
    corpus,
    review_outdoor,
    settings_for,
)
from tests.dbtools import query

pytest_plugins = ["tests.dbfixtures"]  # the database_url and store fixtures

runner = CliRunner()
RIFLES = f"https://{HOST}/shop/rifles.html"
RIFLE_QUOTE = "Bolt-action rifle, .308 Winchester, ships with 50 rounds of ammunition."


@pytest.fixture
def host() -> Iterator[SiteHost]:
    with SiteHost({HOST: SITES / HOST}) as running:
        yield running


def _pages(store: Store, review_id: str) -> list[dict[str, Any]]:
    stored = store.get_review(review_id)
    assert stored is not None
    return [p.model_dump(exclude={"fetched_at"}) for p in stored.page_snapshots()]


async def test_a_replay_reproduces_a_review_from_its_evidence_alone(
    store: Store, host: SiteHost
) -> None:
    settings = settings_for(store.url, host)
    verdict = await review_outdoor(store, settings)
    assert verdict.decision is Decision.REJECT and verdict.review_id is not None
    original = store.get_review(verdict.review_id)
    assert original is not None
    assert [p.found_via for p in original.page_snapshots()][-1] == "agent"  # /contact
    host.close()  # the site is gone: only the audit log can answer now
    blobs = query(store.url, "SELECT COUNT(*) FROM page_blobs")

    result = await replay_review(
        store, verdict.review_id[:12], settings, assessor=EvidenceAssessor(), corpus=corpus()
    )

    assert result.reproduced, result.differences
    assert result.warnings == []
    assert (
        result.original_id == verdict.review_id
        and result.replayed == store.get_review(result.replay_id).parsed_verdict()
    )  # type: ignore[union-attr]
    replay = store.get_review(result.replay_id)
    assert replay is not None
    assert (replay.review.trigger, replay.review.replay_of) == ("replay", verdict.review_id)
    assert _pages(store, result.replay_id) == _pages(store, verdict.review_id)
    assert query(store.url, "SELECT COUNT(*) FROM page_blobs") == blobs  # evidence not copied
    prior = next(e for e in replay.events if e.name == "get_prior_reviews")
    assert prior.output == {"value": {"record_exists": True, "reviews": []}}  # as it was then
    assert store.prior_reviews(MERCHANT.merchant_id)[0]["review_id"] == verdict.review_id
    assert verify_audit_log(store).ok


async def test_a_replay_that_decides_otherwise_reports_what_differs(
    store: Store, host: SiteHost
) -> None:
    verdict = await review_outdoor(store, settings_for(store.url, host))
    result = await replay_review(
        store,
        verdict.review_id or "",
        settings_for(store.url, host),
        assessor=EvidenceAssessor(confidence=0.3),  # weaker evidence: it escalates instead
        corpus=corpus(),
    )
    assert not result.reproduced
    assert "decision: 'reject' -> 'escalate'" in result.differences
    assert any(d.startswith("findings:") for d in result.differences)


async def test_a_changed_merchant_record_is_replayed_from_its_snapshot(
    store: Store, host: SiteHost
) -> None:
    settings = settings_for(store.url, host)
    verdict = await review_outdoor(store, settings)
    store.import_merchants([MERCHANT.model_copy(update={"dba": "Renamed"})])
    result = await replay_review(
        store, verdict.review_id or "", settings, assessor=EvidenceAssessor(), corpus=corpus()
    )
    assert result.reproduced
    assert result.warnings == [
        "the merchant record changed since: replayed with the stored snapshot"
    ]
    replay = store.get_review(result.replay_id)
    assert replay is not None and replay.review.record is not None
    assert replay.review.record["dba"] == "Outdoor Supply Co."


async def test_what_cannot_be_replayed_is_refused(store: Store) -> None:
    settings = Settings(database_url=store.url)
    with pytest.raises(ReplayError, match="no review 'nope'"):
        await replay_review(store, "nope", settings)
    running = start(store)
    with pytest.raises(ReplayError, match="has no verdict"):
        await replay_review(store, running, settings)


def _llm_verdict() -> dict[str, Any]:
    return {
        "findings": [
            {
                "rule_id": "weapons.firearms",
                "category": "weapons",
                "rationale": "a rifle is sold",
                "citations": [{"kind": "page", "url": RIFLES, "quote": RIFLE_QUOTE}],
                "confidence": 0.9,
            }
        ],
        "site_status": "operating",
        "business_summary": "Outdoor shop selling rifles",
        "confidence": 0.85,
    }


async def _llm_review(store: Store, host: SiteHost) -> str:
    """A review by the LLM agent (model scripted, shipped policy corpus), with a retry."""
    settings = settings_for(store.url, host).model_copy(
        update={"model": Settings().model.model_copy(update={"name": "scripted-7b"})}
    )
    model = ScriptedModel(
        [
            ScriptedModel.error(503),  # a failed attempt: retried, recorded, never replayed
            ScriptedModel.tool_call("search_site_text", {"query": "rifle"}),
            ScriptedModel.submit_verdict(**_llm_verdict()),
        ]
    )
    assessor = LLMAssessor(
        model.client(), settings.model, PromptSet.load(), retry=RetryPolicy.no_wait()
    )
    store.import_merchants([MERCHANT])
    async with Reviewer(settings, store, assessor=assessor) as reviewer:
        verdict = await reviewer.review_merchant(MERCHANT.merchant_id)
    model.assert_done()
    assert verdict.decision is Decision.REJECT and verdict.usage.llm_calls == 2
    return verdict.review_id or ""


async def test_a_model_review_replays_with_its_recorded_model_responses(
    store: Store, host: SiteHost
) -> None:
    review_id = await _llm_review(store, host)
    host.close()
    result = await replay_review(store, review_id, Settings(database_url=store.url))
    assert result.reproduced, result.differences
    assert result.warnings == []
    replay = store.get_review(result.replay_id)
    assert replay is not None and replay.review.engine == "llm:scripted-7b"
    calls = [e for e in replay.events if e.kind == EventKind.MODEL_CALL.value]
    assert [e.error for e in calls] == [None, None]  # only the answers, in order


def test_the_cli_replays_and_says_whether_it_reproduced(store: Store, host: SiteHost) -> None:
    review_id = asyncio.run(_llm_review(store, host))  # the CLI runs its own event loop
    host.close()
    result = runner.invoke(app, ["--database-url", store.url, "replay", review_id[:8], "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["reproduced"] is True and report["original_id"] == review_id
    shown = runner.invoke(app, ["--database-url", store.url, "replay", review_id])
    assert shown.exit_code == 0 and "reproduced (reject; weapons)" in shown.output
    missing = runner.invoke(app, ["--database-url", store.url, "replay", "nope"])
    assert missing.exit_code == 2 and "no review 'nope'" in missing.output


def _offline_engine_available() -> bool:
    try:
        return importlib.util.find_spec("agent.offline") is not None and hasattr(
            importlib.import_module("agent.offline"), "OfflineAssessor"
        )
    except ImportError:
        return False


@pytest.mark.skipif(not _offline_engine_available(), reason="agent.offline is not built yet")
def test_the_demo_reviews_replay_exactly_with_the_offline_engine(database_url: str) -> None:
    base = ["--database-url", database_url, "--engine", "offline"]
    demo = runner.invoke(app, [*base, "demo", "--json"])
    assert demo.exit_code == 0, demo.output
    for verdict in json.loads(demo.output):
        replayed = runner.invoke(app, [*base, "replay", verdict["review_id"], "--json"])
        assert replayed.exit_code == 0, replayed.output
        assert json.loads(replayed.output)["differences"] == []
