"""Concurrent writers lose nothing and keep every chain linear (SQLite and PostgreSQL)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from merchant_review.audit import AuditEvent, EventKind
from merchant_review.audit_verify import verify_audit_log
from merchant_review.storage import Store
from merchant_review.taxonomy import Decision
from tests.auditdata import start, write_review

pytest_plugins = ["tests.dbfixtures"]  # the database_url and store fixtures

REVIEWS_PER_PROCESS = 12


def write_reviews(url: str, count: int, barrier: Any, results: Any) -> None:
    """One process: wait for the other, then write `count` reviews through the Store API."""
    store = Store(url)
    barrier.wait(timeout=60)  # both processes start writing together
    written = [write_review(store) for _ in range(count)]
    store.add_override(written[0], decision=Decision.REJECT, reason="checked", analyst="kim")
    results.put(written)
    store.close()


def test_two_processes_writing_reviews_at_once_lose_nothing(store: Store) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [
        context.Process(
            target=write_reviews, args=(store.url, REVIEWS_PER_PROCESS, barrier, results)
        )
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0  # a writer that failed says so here, at once
    written = [results.get(timeout=10) for _ in processes]

    all_ids = {review_id for batch in written for review_id in batch}
    assert len(all_ids) == 2 * REVIEWS_PER_PROCESS
    assert {review.id for review, _ in store.list_reviews(limit=100)} == all_ids
    report = verify_audit_log(store)
    assert report.ok, report.problems
    assert report.reviews == 2 * REVIEWS_PER_PROCESS
    # every review: its start and its verdict; each process: one override
    assert report.ledger_entries == 4 * REVIEWS_PER_PROCESS + 2
    assert store.ledger_head()[0] == report.ledger_entries


def test_events_recorded_at_once_into_one_review_form_one_chain(store: Store) -> None:
    review_id = start(store)

    def record(number: int) -> None:
        store.record_event(review_id, AuditEvent(EventKind.TOOL_CALL, f"call_{number}"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(record, range(40)))
    stored = store.get_review(review_id)
    assert stored is not None
    assert [event.seq for event in stored.events] == list(range(1, 41))
    assert {event.name for event in stored.events} == {f"call_{n}" for n in range(40)}
    assert verify_audit_log(store).ok
