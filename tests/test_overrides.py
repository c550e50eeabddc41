"""Analyst overrides: new records pointing to what they correct; the verdict never changes."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from merchant_review.audit_verify import verify_audit_log
from merchant_review.cli import app
from merchant_review.storage import InvalidOverride, Store, UnknownReview
from merchant_review.taxonomy import Category, Decision
from tests.auditdata import start, write_review

pytest_plugins = ["tests.dbfixtures"]  # the database_url and store fixtures

runner = CliRunner()


def test_an_override_is_a_new_record_and_the_latest_one_stands(store: Store) -> None:
    review_id = write_review(store)  # the engine said reject (weapons)
    first = store.add_override(
        review_id[:12], decision=Decision.APPROVE, reason="airsoft only", analyst=" kim "
    )
    assert (first.review_id, first.corrects_seq, first.analyst) == (review_id, 7, "kim")
    second = store.add_override(
        review_id,
        decision=Decision.REQUEST_INFO,
        reason="prize draws: ask for licence",
        analyst="lee",
        categories=[Category.GAMBLING, Category.BUSINESS_MISMATCH],
    )
    assert second.corrects_seq == first.seq  # a correction points to what it corrects

    stored = store.get_review(review_id)
    assert stored is not None and stored.verdict is not None
    assert stored.verdict.decision == "reject"  # the verdict is as the engine left it
    assert [o.analyst for o in stored.overrides] == ["kim", "lee"]
    final = stored.final_decision()
    assert final is not None and final.overridden and not final.confirmed
    assert final.decision is Decision.REQUEST_INFO and final.engine_decision is Decision.REJECT
    assert final.categories == [Category.BUSINESS_MISMATCH, Category.GAMBLING]
    assert final.analyst == "lee"
    assert store.prior_reviews("acct_1")[0]["analyst_decision"] == "request_info"
    assert store.overridden_review_ids() == [review_id]
    assert verify_audit_log(store).ok


def test_an_override_with_the_engines_decision_confirms_it(store: Store) -> None:
    review_id = write_review(store)
    store.add_override(review_id, decision=Decision.REJECT, reason="agreed", analyst="kim")
    stored = store.get_review(review_id)
    final = stored.final_decision() if stored else None
    assert final is not None and final.confirmed
    assert final.categories == [Category.WEAPONS]  # no --categories: the verdict's stand


@pytest.mark.parametrize(
    ("decision", "categories", "message"),
    [
        (Decision.REQUEST_INFO, None, r"request_info does not fit the categories \(weapons\)"),
        (Decision.REJECT, [Category.CBD], "which mean request_info"),
        (Decision.APPROVE, [Category.GAMBLING], "which mean request_info"),
        (Decision.REJECT, [], r"categories \(none\), which mean approve"),
    ],
)
def test_an_override_must_obey_the_decision_table(
    store: Store, decision: Decision, categories: list[Category] | None, message: str
) -> None:
    review_id = write_review(store)
    with pytest.raises(InvalidOverride, match=message):
        store.add_override(
            review_id, decision=decision, reason="x", analyst="kim", categories=categories
        )
    stored = store.get_review(review_id)
    assert stored is not None and stored.overrides == []  # nothing written


def test_escalate_keeps_any_categories(store: Store) -> None:
    review_id = write_review(store)
    store.add_override(review_id, decision=Decision.ESCALATE, reason="unsure", analyst="kim")
    stored = store.get_review(review_id)
    final = stored.final_decision() if stored else None
    assert final is not None and final.categories == [Category.WEAPONS]


def test_overrides_need_a_finished_review_a_reason_and_an_analyst(store: Store) -> None:
    running = start(store)
    with pytest.raises(InvalidOverride, match="has no verdict yet"):
        store.add_override(running, decision=Decision.APPROVE, reason="x", analyst="kim")
    with pytest.raises(UnknownReview, match="no review 'nope'"):
        store.add_override("nope", decision=Decision.APPROVE, reason="x", analyst="kim")
    finished = write_review(store)
    with pytest.raises(InvalidOverride, match="needs a reason and the analyst"):
        store.add_override(finished, decision=Decision.APPROVE, reason=" ", analyst="kim")
    assert store.overridden_review_ids() == []


def test_the_cli_records_an_override_and_show_displays_it(store: Store) -> None:
    review_id = write_review(store)
    base = ["--database-url", store.url]
    result = runner.invoke(
        app,
        [
            *base, "override", review_id[:10], "--decision", "request_info",
            "--reason", "prize draws", "--analyst", "lee",
            "--categories", "gambling, business_mismatch",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "request_info (business_mismatch, gambling) by lee" in result.output
    shown = runner.invoke(app, [*base, "show", review_id])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())  # rich wraps lines at the terminal width
    assert "analyst overrides" in text and "prize draws" in text
    standing = "request_info (business_mismatch, gambling; engine said reject; by lee)"
    assert f"decision that stands: {standing}" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--decision", "approve", "--reason", "x", "--analyst", "k", "--categories", "guns"],
            "guns",
        ),
        (["--decision", "maybe", "--reason", "x", "--analyst", "k"], "maybe"),
        (["--decision", "request_info", "--reason", "x", "--analyst", "k"], "does not fit"),
    ],
)
def test_the_cli_refuses_a_bad_override(store: Store, args: list[str], message: str) -> None:
    review_id = write_review(store)
    result = runner.invoke(app, ["--database-url", store.url, "override", review_id, *args])
    assert result.exit_code == 2
    assert message in result.output
    assert store.overridden_review_ids() == []
