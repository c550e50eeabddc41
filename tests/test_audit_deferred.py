"""Deferred audit records (storage/pending.py): fewer write transactions, nothing lost.

A review's CPU-only steps are written with its next write. These tests stop reviews
midway (cancelled while waiting, a storage error at the end, a failed write) and check
that every step that ran is in the audit log, in order, with the chains intact; and that
an ordinary review takes the few transactions the design promises. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.assessor import AssessmentRequest
from merchant_review.audit import REDACTED, AuditEvent, EventKind
from merchant_review.audit_verify import verify_audit_log
from merchant_review.records import MerchantRecord
from merchant_review.review import Reviewer
from merchant_review.settings import Settings
from merchant_review.sitehost import SiteHost
from merchant_review.storage import StorageError, Store
from merchant_review.storage import rows as row_builders
from merchant_review.verdict import Assessment
from tests.auditdata import MERCHANT, OWNER, start, verdict_for
from tests.reviewsite import HOST, SITES, thc_corpus
from tools.toolbox import ReviewToolbox

pytest_plugins = ["tests.dbfixtures"]  # the database_url and store fixtures

STEPS_BEFORE_ASSESS = ["crawl_website", "retrieve_rules"]
ALL_STEPS = [*STEPS_BEFORE_ASSESS, "assess", "verify_citations", "decide"]


class ToolThenWait:
    """Calls one tool (an immediate write), then waits until told to go on (or forever)."""

    engine = "test-assessor"

    def __init__(self, wait: bool) -> None:
        self.wait = wait
        self.entered = asyncio.Event()

    async def assess(self, request: AssessmentRequest, toolbox: ReviewToolbox) -> Assessment:
        await toolbox.call("search_site_text", {"query": "THC"})
        self.entered.set()
        if self.wait:
            await asyncio.Event().wait()  # until cancelled
        return Assessment(engine=self.engine, confidence=0.5, business_summary="gummies")


@pytest.fixture
def host() -> Iterator[SiteHost]:
    with SiteHost({HOST: SITES / HOST}) as running:
        yield running


def reviewer(store: Store, host: SiteHost, assessor: ToolThenWait | OfflineLike) -> Reviewer:
    store.import_merchants([MerchantRecord(merchant_id="m1", website=f"https://{HOST}/")])
    settings = Settings(
        database_url=store.url,
        crawl={"origin_overrides": host.origin_overrides(), "allow_private": ["127.0.0.1"]},
    )
    return Reviewer(settings, store, assessor=assessor, corpus=thc_corpus())


def only_review(store: Store) -> Any:
    (review, _verdict), *others = store.list_reviews()
    assert not others
    stored = store.get_review(review.id)
    assert stored is not None
    return stored


def steps(stored: Any) -> list[str]:
    return [e.name for e in stored.events if e.kind == EventKind.STEP]


def count_writes(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one with every write transaction the store opens from now on."""
    writes: list[int] = []
    opened = store.write_session

    def counted() -> Any:
        writes.append(1)
        return opened()

    monkeypatch.setattr(store, "write_session", counted)
    return writes


async def test_a_review_is_written_in_six_transactions_in_the_order_things_happened(
    store: Store, host: SiteHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    review = reviewer(store, host, ToolThenWait(wait=False))
    writes = count_writes(store, monkeypatch)
    async with review:
        await review.review_merchant("m1")
    stored = only_review(store)
    names = [e.name for e in stored.events]
    assert names == [*STEPS_BEFORE_ASSESS, "search_site_text", *ALL_STEPS[2:]]
    # start; crawl rows + crawl step; retrieve step (before assess waits); the tool call;
    # assess step (after it); verify + decide steps + verdict. (A write per step: 10.)
    assert len(writes) == 6
    assert stored.verdict is not None and stored.pages
    assert verify_audit_log(store).ok


class OfflineLike:
    """An assessor that only reads the crawled pages, as the offline engine does."""

    engine = "test-offline"
    waits_on_network = False

    async def assess(self, request: AssessmentRequest, toolbox: ReviewToolbox) -> Assessment:
        return Assessment(engine=self.engine, confidence=0.5, business_summary="gummies")


async def test_a_review_with_an_assessor_that_does_not_wait_takes_three_transactions(
    store: Store, host: SiteHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    review = reviewer(store, host, OfflineLike())
    writes = count_writes(store, monkeypatch)
    async with review:
        await review.review_merchant("m1")
    stored = only_review(store)
    assert steps(stored) == ALL_STEPS
    assert len(writes) == 3  # start; the crawl and its step; the rest with the verdict
    assert verify_audit_log(store).ok


async def test_a_review_cancelled_while_waiting_keeps_every_step_it_ran(
    store: Store, host: SiteHost
) -> None:
    assessor = ToolThenWait(wait=True)
    review = reviewer(store, host, assessor)
    async with review:
        task = asyncio.create_task(review.review_merchant("m1"))
        await asyncio.wait_for(assessor.entered.wait(), timeout=30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    stored = only_review(store)
    assert steps(stored) == [*STEPS_BEFORE_ASSESS, "assess"]
    stopped = stored.events[-1]
    assert stopped.name == "assess" and stopped.error is not None and "stopped" in stopped.error
    assert stored.verdict is None and stored.pages  # unfinished, the crawl kept
    assert verify_audit_log(store).ok


async def test_a_storage_error_at_the_end_still_leaves_the_steps_it_ran(
    store: Store, host: SiteHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_review_id: str, _verdict: object) -> None:
        raise StorageError("the disk is full")

    monkeypatch.setattr(store, "finish_review", refuse)
    review = reviewer(store, host, ToolThenWait(wait=False))
    async with review:
        with pytest.raises(StorageError, match="disk is full"):
            await review.review_merchant("m1")
    stored = only_review(store)
    assert steps(stored) == ALL_STEPS  # verify and decide were deferred: written on the way out
    assert stored.verdict is None
    assert verify_audit_log(store).ok


def test_deferred_records_survive_a_failed_write_and_go_with_the_next(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.import_merchants([MERCHANT])
    review_id = start(store)
    store.defer_event(review_id, AuditEvent(EventKind.STEP, "first"))
    store.defer_event(review_id, AuditEvent(EventKind.STEP, "second"))
    original = row_builders.verdict_row

    def broken(*_args: object) -> object:
        raise RuntimeError("verdict row could not be built")

    monkeypatch.setattr(row_builders, "verdict_row", broken)
    with pytest.raises(RuntimeError):
        store.finish_review(review_id, verdict_for(review_id))
    stored = store.get_review(review_id)
    assert stored is not None and stored.events == []  # rolled back, nothing half-written
    monkeypatch.setattr(row_builders, "verdict_row", original)
    store.record_event(review_id, AuditEvent(EventKind.TOOL_CALL, "third"))
    store.finish_review(review_id, verdict_for(review_id))
    stored = store.get_review(review_id)
    assert stored is not None
    assert [e.name for e in stored.events] == ["first", "second", "third"]
    assert [e.seq for e in stored.events] == [1, 2, 3] and stored.verdict is not None
    assert verify_audit_log(store).ok


def test_flush_writes_nothing_when_nothing_is_deferred(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    review_id = start(store)
    writes = count_writes(store, monkeypatch)
    store.flush(review_id)
    assert writes == []


def test_a_deferred_event_is_taken_as_it_was_when_deferred(store: Store) -> None:
    review_id = start(store)
    output: dict[str, Any] = {"count": 1}
    store.defer_event(review_id, AuditEvent(EventKind.STEP, "step", output=output))
    output["count"] = 2  # changed after the step reported it
    store.flush(review_id)
    stored = store.get_review(review_id)
    assert stored is not None and stored.events[0].output == {"value": {"count": 1}}


def test_writes_after_a_re_import_scrub_the_new_personal_data(store: Store) -> None:
    store.import_merchants([MERCHANT])
    review_id = start(store)
    store.record_event(review_id, AuditEvent(EventKind.STEP, "before", {"who": OWNER}))
    new_owner = "Grace Hopper-Person"
    store.import_merchants([MERCHANT.model_copy(update={"owner_name": new_owner})])
    store.defer_event(review_id, AuditEvent(EventKind.STEP, "after", {"who": f"I am {new_owner}"}))
    store.finish_review(review_id, verdict_for(review_id))
    stored = store.get_review(review_id)
    assert stored is not None
    assert [e.input["value"]["who"] for e in stored.events] == [REDACTED, f"I am {REDACTED}"]


def test_writes_from_a_store_that_did_not_start_the_review_scrub_too(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    store.import_merchants([MERCHANT])
    review_id = start(store)
    other = Store(database_url)  # e.g. another process closing an abandoned review
    try:
        other.record_event(review_id, AuditEvent(EventKind.STEP, "late", {"who": OWNER}))
    finally:
        other.close()
    stored = store.get_review(review_id)
    assert stored is not None and stored.events[0].input["value"]["who"] == REDACTED
