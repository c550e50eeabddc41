"""Tamper evidence: rows changed, deleted, inserted or reordered in SQL are all detected."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from merchant_review import audit_verify
from merchant_review.audit import AuditEvent, EventKind, canonical_json
from merchant_review.audit_verify import VerifyReport, verify_audit_log
from merchant_review.chain import seal
from merchant_review.cli import app
from merchant_review.storage import Store
from merchant_review.storage.schema import ChainHeadRow, EventRow, OverrideRow
from merchant_review.taxonomy import Decision
from tests.auditdata import write_review
from tests.dbtools import query, tamper

pytest_plugins = ["tests.dbfixtures"]  # the database_url and store fixtures

runner = CliRunner()


def _verify(store: Store) -> VerifyReport:
    return verify_audit_log(store)


def _only_problem(store: Store) -> str:
    report = _verify(store)
    assert len(report.problems) == 1, report.problems
    return str(report.problems[0])


@pytest.fixture
def reviews(store: Store) -> list[str]:
    """Three reviews: finished, finished with an override, and one still running."""
    first, second = write_review(store), write_review(store)
    store.add_override(second, decision=Decision.APPROVE, reason="toy guns", analyst="kim")
    running = write_review(store, finish=False)
    assert _verify(store).ok
    return [first, second, running]


def _json(store: Store) -> str:
    """A JSON column value in SQL for this database."""
    return "CAST(:value AS JSON)" if store.engine.dialect.name == "postgresql" else ":value"


def test_an_intact_log_verifies_with_counts_and_the_ledger_head(
    store: Store, reviews: list[str]
) -> None:
    report = _verify(store)
    assert report.ok and report.reviews == 3
    # review row + crawl + 2 pages + 3 events (+ verdict) (+ override)
    assert report.records == 8 + 9 + 7
    assert report.blobs == 2  # the three reviews fetched the same two pages
    assert report.ledger_entries == 3 + 2 + 1  # starts, verdicts, override
    assert report.head == store.ledger_head() and report.head[0] == 6


def test_a_changed_decision_is_reported_with_the_column(store: Store, reviews: list[str]) -> None:
    tamper(store.url, "UPDATE verdicts SET decision = 'approve' WHERE review_id = :r", r=reviews[0])
    problem = _only_problem(store)
    assert f"review {reviews[0]}" in problem and "verdicts (verdict approve)" in problem
    assert "content changed since it was written: decision" in problem


def test_changed_json_content_is_reported(store: Store, reviews: list[str]) -> None:
    statement = f"UPDATE review_events SET output = {_json(store)} WHERE review_id = :r AND seq = 4"
    tamper(store.url, statement, r=reviews[1], value=canonical_json({"value": "nothing here"}))
    problem = _only_problem(store)
    assert "#4 review_events (tool_call get_merchant_profile)" in problem
    assert problem.endswith("content changed since it was written: output")


def test_changed_page_content_is_reported(store: Store, reviews: list[str]) -> None:
    sha = query(store.url, "SELECT content_sha256 FROM fetched_pages WHERE seq = 2 LIMIT 1")[0][0]
    forged = zlib.compress(canonical_json({"title": "Shop", "text": "We sell books"}).encode())
    tamper(store.url, "UPDATE page_blobs SET data = :d WHERE sha256 = :s", d=forged, s=sha)
    report = _verify(store)
    assert len(report.problems) == 3  # the blob is evidence in all three reviews
    assert all("the blob no longer matches its sha256" in str(p) for p in report.problems)


def test_a_deleted_record_is_reported(store: Store, reviews: list[str]) -> None:
    tamper(store.url, "DELETE FROM review_events WHERE review_id = :r AND seq = 4", r=reviews[0])
    problem = _only_problem(store)
    assert "#5 review_events" in problem and "record #4 before it is missing" in problem


def test_a_record_deleted_from_the_end_of_a_running_review_is_reported(
    store: Store, reviews: list[str]
) -> None:
    tamper(store.url, "DELETE FROM review_events WHERE review_id = :r AND seq = 6", r=reviews[2])
    problem = _only_problem(store)
    assert f"review {reviews[2]}: chain head (7 records)" in problem
    assert "records 6..6 at the end were deleted" in problem


def test_a_copied_record_inserted_in_sql_is_reported(store: Store, reviews: list[str]) -> None:
    columns = (
        "review_id, kind, name, input_hash, input, output, prompt_tokens, completion_tokens, "
        "latency_ms, error, created_at, prev_hash, field_hashes, row_hash"
    )
    tamper(
        store.url,
        f"INSERT INTO review_events (seq, {columns}) SELECT 9, {columns} FROM review_events "
        "WHERE review_id = :r AND seq = 4",
        r=reviews[0],
    )
    problem = _only_problem(store)
    assert "#9 review_events" in problem and "moved" in problem


def _forge_event(store: Store, review_id: str, *, move_head: bool) -> None:
    """An insider adds a well-formed event at the end of a review, hashes and all."""
    with store.session() as session:
        head = session.get(ChainHeadRow, review_id)
        assert head is not None
        row = EventRow(
            review_id=review_id,
            kind="step",
            name="analyst_note",
            input_hash="0" * 64,
            input={"value": "approved by phone"},
            output=None,
            created_at=datetime.now(UTC),
        )
        seal(row, head.length, head.head_hash)
        session.add(row)
        if move_head:
            head.length, head.head_hash = head.length + 1, row.row_hash


def test_a_well_forged_record_is_reported_by_the_chain_head(
    store: Store, reviews: list[str]
) -> None:
    _forge_event(store, reviews[2], move_head=False)  # the running review
    assert "1 record(s) were appended outside the store" in _only_problem(store)


def test_a_forged_record_after_the_verdict_is_reported_even_with_the_head_moved(
    store: Store, reviews: list[str]
) -> None:
    _forge_event(store, reviews[0], move_head=True)
    problem = _only_problem(store)
    assert "#8 review_events (step analyst_note)" in problem and "after the verdict" in problem


def test_reordered_records_are_reported(store: Store, reviews: list[str]) -> None:
    swap = "UPDATE review_events SET seq = :to WHERE review_id = :r AND seq = :at"
    tamper(
        store.url,
        swap.replace(":to", "-1").replace(":at", "4"),
        swap.replace(":to", "4").replace(":at", "5"),
        swap.replace(":to", "5").replace(":at", "-1"),
        r=reviews[1],
    )
    assert "order changed" in _only_problem(store)


def test_a_deleted_override_is_reported(store: Store, reviews: list[str]) -> None:
    tamper(store.url, "DELETE FROM overrides WHERE review_id = :r", r=reviews[1])
    problem = _only_problem(store)  # the ledger is not asked about a chain already broken
    assert f"review {reviews[1]}: chain head" in problem
    assert "records 8..8 at the end were deleted" in problem


def test_a_deleted_override_with_its_chain_head_rewound_is_reported_by_the_ledger(
    store: Store, reviews: list[str]
) -> None:
    verdict_hash = query(
        store.url, "SELECT row_hash FROM verdicts WHERE review_id = :r", r=reviews[1]
    )
    tamper(
        store.url,
        "DELETE FROM overrides WHERE review_id = :r",
        "UPDATE chain_heads SET length = 8, head_hash = :h WHERE chain_id = :r",
        r=reviews[1],
        h=verdict_hash[0][0],
    )
    problem = _only_problem(store)
    assert problem.startswith("ledger: entry #5:") and "record #8 of review" in problem


def test_an_override_forged_with_its_chain_head_is_reported_by_the_ledger(
    store: Store, reviews: list[str]
) -> None:
    with store.session() as session:
        head = session.get(ChainHeadRow, reviews[0])
        assert head is not None
        row = OverrideRow(
            review_id=reviews[0],
            corrects_seq=7,
            analyst="mallory",
            decision="approve",
            categories=[],
            reason="looked fine",
            created_at=datetime.now(UTC),
        )
        seal(row, head.length, head.head_hash)
        session.add(row)
        head.length, head.head_hash = head.length + 1, row.row_hash
    problem = _only_problem(store)
    assert "override to approve by mallory" in problem and "has no ledger entry" in problem


def test_a_whole_deleted_review_is_reported(store: Store, reviews: list[str]) -> None:
    statements = [
        f"DELETE FROM {table} WHERE review_id = :r"
        for table in ("review_events", "fetched_pages", "crawls", "verdicts")
    ]
    statements += [
        "DELETE FROM chain_heads WHERE chain_id = :r",
        "DELETE FROM reviews WHERE id = :r",
    ]
    tamper(store.url, *statements, r=reviews[0])
    assert f"review {reviews[0]}: #0 reviews: the review row was deleted" in _only_problem(store)


def test_changed_or_deleted_ledger_entries_are_reported(store: Store, reviews: list[str]) -> None:
    tamper(store.url, "UPDATE audit_ledger SET kind = 'verdict' WHERE position = 1")
    assert "ledger: entry #1: its content changed" in _only_problem(store)
    tamper(
        store.url,
        "UPDATE audit_ledger SET kind = 'review' WHERE position = 1",
        "DELETE FROM audit_ledger WHERE position = 3",
    )
    assert "ledger: entry #3: entries #3..3 are missing" in _only_problem(store)


def test_since_checks_only_what_was_written_from_then_on(store: Store) -> None:
    old = write_review(store)
    middle = datetime.now(UTC)
    write_review(store)
    tamper(store.url, "UPDATE review_events SET name = 'x' WHERE review_id = :r", r=old)
    assert not verify_audit_log(store).ok
    recent = verify_audit_log(store, since=middle)
    assert recent.ok and recent.reviews == 1 and recent.ledger_entries == 2
    assert verify_audit_log(store, since=datetime(2100, 1, 1, tzinfo=UTC)).ok


def test_an_event_recorded_for_the_review_is_chained_after_the_records_before_it(
    store: Store,
) -> None:
    review_id = write_review(store, finish=False)
    store.record_event(review_id, AuditEvent(EventKind.STEP, "late"))
    stored = store.get_review(review_id)
    assert stored is not None
    assert stored.events[-1].prev_hash == stored.events[-2].row_hash
    assert _verify(store).ok


def test_the_cli_reports_an_intact_and_a_broken_log(store: Store, reviews: list[str]) -> None:
    ok = runner.invoke(app, ["--database-url", store.url, "audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "audit log intact: 3 reviews" in ok.output and "ledger head: #6" in ok.output
    tamper(store.url, "UPDATE verdicts SET decision = 'approve' WHERE review_id = :r", r=reviews[0])
    broken = runner.invoke(
        app, ["--database-url", store.url, "audit", "verify", "--since", "2000-01-01"]
    )
    assert broken.exit_code == 1
    assert "audit log BROKEN" in broken.output and "decision" in broken.output


def test_verification_pages_through_reviews_and_ledger_in_batches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_verify, "BATCH", 2)
    review_ids = [write_review(store) for _ in range(5)]
    report = _verify(store)
    assert report.ok and report.reviews == 5 and report.ledger_entries == 10
    tamper(store.url, "UPDATE review_events SET name = 'x' WHERE review_id = :r", r=review_ids[4])
    assert f"review {review_ids[4]}" in _only_problem(store)
