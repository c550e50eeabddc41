"""The SQL store: merchant records and the audit log, written and read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from merchant_review.audit import REDACTED, AuditEvent, EventKind
from merchant_review.pages import PageSnapshot
from merchant_review.records import MerchantRecord
from merchant_review.storage import ReviewAudit, Store, StorageError
from merchant_review.taxonomy import Category, Decision
from merchant_review.verdict import Finding, PageCitation, Verdict


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'audit.db'}")


MERCHANT = MerchantRecord(
    merchant_id="acct_1",
    website="https://shop.example/",
    dba="Shop",
    mcc=5942,  # type: ignore[arg-type]  # integers from JSON become text
    owner_name="Ada Person",
    loyalty_tier="gold",  # an unknown extra field is kept
)


def test_merchant_records_round_trip_with_extra_fields(store: Store) -> None:
    assert store.import_merchants([MERCHANT]) == 1
    loaded = store.get_merchant("acct_1")
    assert loaded is not None
    assert loaded.mcc == "5942"
    assert loaded.model_extra == {"owner_name": "Ada Person", "loyalty_tier": "gold"}
    assert store.import_merchants([MERCHANT.model_copy(update={"dba": "Shop 2"})]) == 1
    assert [m.dba for m in store.list_merchants()] == ["Shop 2"]
    assert store.get_merchant("nope") is None


def _start(store: Store) -> str:
    return store.start_review(
        merchant=MERCHANT,
        website=MERCHANT.website,
        engine="offline-test",
        model=None,
        prompt_version=None,
        corpus_version="corpus-abc",
        settings_hash="f" * 64,
    )


def test_a_completed_review_is_stored_with_events_pages_and_verdict(store: Store) -> None:
    store.import_merchants([MERCHANT])
    review_id = _start(store)
    audit = ReviewAudit(store, review_id)
    audit.record(AuditEvent(EventKind.STEP, "crawl_website", {"url": "x"}, {"pages": 1}, 12.5))
    audit.record(
        AuditEvent(
            EventKind.TOOL_CALL,
            "get_merchant_profile",
            {},
            {"owner_name": "Ada Person", "dba": "Shop"},
        )
    )
    page = PageSnapshot(
        url="https://shop.example/", requested_url="https://shop.example/", status=200, text="hi"
    )
    store.save_pages(review_id, [page])
    verdict = Verdict(
        merchant_id="acct_1",
        website=MERCHANT.website,
        decision=Decision.REJECT,
        categories=[Category.WEAPONS],
        confidence=0.9,
        findings=[
            Finding(
                rule_id="weapons.firearms",
                category=Category.WEAPONS,
                rationale="sells rifles",
                citations=[PageCitation(url=page.url, quote="hi")],
            )
        ],
        engine="offline-test",
        corpus_version="corpus-abc",
        review_id=review_id,
    )
    store.finish_review(review_id, verdict)

    stored = store.get_review(review_id[:10])  # a unique prefix finds it
    assert stored is not None
    assert stored.review.corpus_version == "corpus-abc"
    assert stored.review.record_hash is not None
    assert [e.seq for e in stored.events] == [1, 2]
    assert stored.events[1].output == {"value": {"owner_name": REDACTED, "dba": "Shop"}}
    assert stored.page_snapshots()[0].text == "hi"
    assert stored.parsed_verdict() == verdict
    assert store.prior_reviews("acct_1")[0]["decision"] == "reject"


def test_a_review_without_verdict_reads_back_as_unfinished(store: Store) -> None:
    review_id = _start(store)
    stored = store.get_review(review_id)
    assert stored is not None and stored.verdict is None and stored.parsed_verdict() is None
    assert store.prior_reviews("acct_1") == []


@pytest.mark.parametrize("url", ["nosuchdb://x", "sqlite:////nonexistent-dir/sub/a.db"])
def test_bad_database_urls_give_a_clear_error(url: str) -> None:
    with pytest.raises(StorageError):
        Store(url)


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="cannot open database"):
        Store(f"sqlite:///{junk}")
