"""The SQL store, on SQLite and PostgreSQL: records, the audit log, blobs, privacy, errors."""

from __future__ import annotations

import logging
import sqlite3
import zlib
from pathlib import Path

import pytest
from sqlalchemy import text

from merchant_review.audit import REDACTED, AuditEvent, EventKind
from merchant_review.pages import CrawlReport
from merchant_review.storage import ReviewAudit, StorageError, Store, UnknownReview
from merchant_review.storage.engine import make_engine
from merchant_review.verdict import RecordCitation
from tests.auditdata import (
    ABOUT,
    EMAIL,
    HOME,
    MERCHANT,
    OWNER,
    PHONE,
    start,
    verdict_for,
    write_review,
)
from tests.dbtools import query

pytest_plugins = ["tests.dbfixtures"]  # the database_url and store fixtures

AUDIT_TABLES = ("reviews", "crawls", "review_events", "fetched_pages", "verdicts", "audit_ledger")


def test_merchant_records_round_trip_with_extra_fields(store: Store) -> None:
    assert store.import_merchants([MERCHANT]) == 1
    loaded = store.get_merchant("acct_1")
    assert loaded is not None
    assert loaded.mcc == "5942"
    assert loaded.model_extra == {
        "owner_name": OWNER,
        "email": EMAIL,
        "phone": PHONE,
        "loyalty_tier": "gold",
    }
    assert store.import_merchants([MERCHANT.model_copy(update={"dba": "Shop 2"})]) == 1
    assert [m.dba for m in store.list_merchants()] == ["Shop 2"]
    assert store.count_merchants() == 1
    assert store.get_merchant("nope") is None


def test_a_completed_review_is_stored_with_events_pages_and_verdict(store: Store) -> None:
    store.import_merchants([MERCHANT])
    review_id = start(store)
    audit = ReviewAudit(store, review_id)
    audit.record(AuditEvent(EventKind.STEP, "crawl_website", {"url": "x"}, {"pages": 1}, 12.5))
    audit.record(AuditEvent(EventKind.TOOL_CALL, "get_merchant_profile", {}, {"owner_name": OWNER}))
    store.save_crawl(review_id, CrawlReport(start_url=MERCHANT.website, pages=[HOME]))
    store.save_pages(review_id, [ABOUT])
    verdict = verdict_for(review_id)
    store.finish_review(review_id, verdict)

    stored = store.get_review(review_id[:10])  # a unique prefix finds it
    assert stored is not None
    assert stored.review.corpus_version == "corpus-abc"
    assert stored.review.record_hash is not None
    assert [e.seq for e in stored.events] == [1, 2]  # #0 is the review row itself
    assert stored.events[1].output == {"value": {"owner_name": REDACTED}}
    assert [p.url for p in stored.page_snapshots()] == [HOME.url, ABOUT.url]
    assert stored.page_snapshots()[0] == HOME
    report = stored.crawl_report()
    assert report is not None and report.start_url == MERCHANT.website
    parsed = stored.parsed_verdict()
    assert parsed is not None and parsed.decision is verdict.decision
    assert parsed.findings[0].citations[0] == verdict.findings[0].citations[0]
    assert store.prior_reviews("acct_1")[0]["decision"] == "reject"
    assert store.list_reviews("acct_1")[0][1] is not None


def test_a_review_without_verdict_reads_back_as_unfinished(store: Store) -> None:
    review_id = start(store)
    stored = store.get_review(review_id)
    assert stored is not None and stored.verdict is None and stored.parsed_verdict() is None
    assert stored.final_decision() is None
    assert store.prior_reviews("acct_1") == []


def test_a_verdict_is_stored_once(store: Store) -> None:
    review_id = write_review(store)
    with pytest.raises(StorageError, match="already has a verdict"):
        store.finish_review(review_id, verdict_for(review_id))
    stored = store.get_review(review_id)
    assert stored is not None and stored.verdict is not None


def test_writing_to_an_unknown_review_is_refused_and_writes_nothing(store: Store) -> None:
    with pytest.raises(UnknownReview, match="no review"):
        store.record_event("nosuchreview", AuditEvent(EventKind.STEP, "x"))
    with pytest.raises(UnknownReview):
        store.save_pages("nosuchreview", [HOME])
    assert query(store.url, "SELECT COUNT(*) FROM page_blobs") == [(0,)]


def test_page_content_is_stored_once_compressed_by_its_hash(store: Store) -> None:
    big = HOME.model_copy(update={"text": "rifles and ammunition " * 2000})
    first, second = start(store), start(store)
    store.save_pages(first, [big, ABOUT])
    store.save_pages(second, [big.model_copy(update={"fetched_at": ABOUT.fetched_at})])
    blobs = query(store.url, "SELECT sha256, size, data FROM page_blobs")
    assert len(blobs) == 2  # the same content twice is one blob
    sizes = {len(bytes(data)): size for _, size, data in blobs}  # type: ignore[arg-type]
    assert any(stored < size / 20 for stored, size in sizes.items())  # compressed
    contents = {zlib.decompress(bytes(data)) for _, _, data in blobs}  # type: ignore[arg-type]
    assert any(b"rifles and ammunition rifles" in content for content in contents)
    stored = store.get_review(second)
    assert stored is not None and stored.page_snapshots()[0].text == big.text


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ("UPDATE reviews SET website = 'https://other.example/'", "reviews"),
        ("DELETE FROM review_events", "review_events"),
        ("UPDATE verdicts SET decision = 'approve'", "verdicts"),
        ("DELETE FROM page_blobs", "page_blobs"),
        ("DELETE FROM audit_ledger", "audit_ledger"),
    ],
)
def test_the_database_refuses_to_change_audit_records(
    store: Store, statement: str, table: str
) -> None:
    write_review(store)
    with pytest.raises(StorageError, match=f"{table} is append-only"), store.session() as session:
        session.execute(text(statement))


def _everything_stored(url: str) -> str:
    """All audit tables as text, page blobs decompressed: what an auditor could read."""
    dump = [repr(query(url, f"SELECT * FROM {table}")) for table in AUDIT_TABLES]
    for (data,) in query(url, "SELECT data FROM page_blobs"):
        dump.append(zlib.decompress(bytes(data)).decode())  # type: ignore[arg-type]
    return "\n".join(dump)


def test_personal_data_of_the_record_never_reaches_the_audit_log(store: Store) -> None:
    store.import_merchants([MERCHANT])
    review_id = write_review(store)
    store.record_event(
        review_id,
        AuditEvent(
            EventKind.MODEL_CALL,
            "chat.completions.create",
            {"messages": [{"role": "user", "content": f"owner: {OWNER.upper()}, {PHONE}"}]},
            {"content": "ok"},
            error=f"model refused to talk about {EMAIL}",
            extra={"request": {"messages": [f"email {EMAIL}"]}},
        ),
    )
    dump = _everything_stored(store.url)
    for value in (OWNER, EMAIL, PHONE, OWNER.upper()):
        assert value not in dump
    assert "Shop Holdings LLC" in dump and "We sell rifles" in dump  # business data stays
    stored = store.get_review(review_id)
    assert stored is not None
    assert stored.review.record is not None and stored.review.record["owner_name"] == REDACTED
    assert stored.page_snapshots()[1].text == f"Founded by {REDACTED}. Write to {REDACTED}."
    verdict = stored.parsed_verdict()
    assert verdict is not None
    assert verdict.findings[0].citations[1] == RecordCitation(field="owner_name", value=REDACTED)
    assert store.get_merchant("acct_1") == MERCHANT  # the records database keeps it


def test_a_personal_value_that_is_also_business_data_is_kept(store: Store) -> None:
    sole_trader = MERCHANT.model_copy(update={"legal_name": f"{OWNER} Trading"})
    store.import_merchants([sole_trader])
    review_id = start(store, sole_trader)
    store.record_event(review_id, AuditEvent(EventKind.STEP, "x", {"who": OWNER}, {}))
    stored = store.get_review(review_id)
    assert stored is not None and stored.events[0].input == {"value": {"who": OWNER}, "extra": None}


def test_log_output_carries_no_personal_data(
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # SQL and parameters
        try:
            opened = Store(database_url)
            opened.import_merchants([MERCHANT])
            write_review(opened)
            opened.close()
        finally:
            logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert "INSERT INTO review_events" in caplog.text  # the statements were logged
    for value in (OWNER, EMAIL, PHONE):
        assert value not in caplog.text


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuchdb://x", "invalid database URL"),
        ("not a url", "invalid database URL"),
        ("mysql://u@127.0.0.1:1/x", "only SQLite .* and PostgreSQL"),
        ("postgresql+nosuchdriver://u@127.0.0.1:1/x", "invalid database URL"),
        ("sqlite:////nonexistent-dir/sub/a.db", "unable to open database file"),
    ],
)
def test_bad_database_urls_give_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        Store(url)


def test_an_unreachable_server_is_named_without_its_password() -> None:
    with pytest.raises(StorageError) as caught:
        Store("postgresql+psycopg://auditor:s3cret@127.0.0.1:1/audit")
    assert "cannot connect to database postgresql+psycopg://auditor:***@127.0.0.1:1/audit" in str(
        caught.value
    )
    assert "s3cret" not in str(caught.value)


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match=r"cannot open database .*corrupt or not SQLite"):
        Store(f"sqlite:///{junk}")


def test_a_locked_sqlite_file_gives_a_clear_error_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    Store(f"sqlite:///{path}").close()
    waiting = Store(f"sqlite:///{path}?timeout=0.2")  # give up after 0.2 s, not 10 s
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        with pytest.raises(StorageError, match="is locked by another process"):
            start(waiting)
        assert waiting.list_reviews() == []  # readers still work (WAL)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    start(waiting)
    assert len(waiting.list_reviews()) == 1
    waiting.close()


def test_sqlite_engine_keeps_parameters_out_of_error_messages(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert engine.hide_parameters
    engine.dispose()
