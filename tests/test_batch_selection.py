"""Selecting merchants for a batch run: ids, the --where language, staleness, policy changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from merchant_review.audit import AuditEvent, EventKind
from merchant_review.batch import corpus as snapshots
from merchant_review.batch.corpus import UnknownCorpusVersion
from merchant_review.batch.filters import FilterError, compile_where
from merchant_review.batch.selection import (
    Selection,
    SelectionError,
    policy_target,
    select_merchants,
)
from merchant_review.policy import PolicyCorpus, load_corpus
from merchant_review.records import MerchantRecord
from merchant_review.resources import data_dir
from merchant_review.storage import Store
from merchant_review.taxonomy import Category, Decision
from merchant_review.verdict import Finding, PageCitation, Verdict

pytest_plugins = ["tests.dbfixtures"]

CHANGED_RULE = "tobacco_vaping.vapes_eliquids"


def merchant(merchant_id: str, **fields: object) -> MerchantRecord:
    return MerchantRecord(
        merchant_id=merchant_id, website=f"https://{merchant_id}.example/", **fields
    )  # type: ignore[arg-type]


RECORDS = [
    merchant("a", country="US", mcc="5993", monthly_volume_usd=50_000, dba="Cloud Vapes"),
    merchant("b", country="US", mcc="5999", monthly_volume_usd=5_000, dba="O'Neil Goods"),
    merchant("c", country="GB", mcc="5993", monthly_volume_usd=20_000),
    merchant("d", country="DE", mcc="5411", dispute_rate=0.02),
    merchant("e"),
]


def chosen(store: Store, selection: Selection, **extra: object) -> list[str]:
    return list(select_merchants(store, selection, **extra))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("country = 'US' and mcc in ('5993','5999')", ["a", "b"]),
        ("COUNTRY = 'US' AND NOT mcc = '5993'", ["b"]),
        ("monthly_volume_usd >= 20000", ["a", "c"]),
        ("mcc not in ('5993') or country is null", ["b", "d", "e"]),
        ("dba like '%Vape%' or dba = 'O''Neil Goods'", ["a", "b"]),
        ("dispute_rate is not null", ["d"]),
        ("(country = 'GB' or country = 'DE') and merchant_id != 'd'", ["c"]),
        ("country = 'US''; DROP TABLE merchants; --'", []),
    ],
)
def test_where_selects_by_record_fields(store: Store, where: str, expected: list[str]) -> None:
    store.import_merchants(RECORDS)
    assert chosen(store, Selection(where=where)) == expected
    assert store.count_merchants() == len(RECORDS)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("password = 'x'", "unknown field password"),
        ("country = 1", "compared with a quoted string"),
        ("monthly_volume_usd > '1'", "compared with a number"),
        ("country = 'US' or 1 = 1", "invalid --where expression"),
        ("country = 'US'; DELETE FROM merchants", "invalid --where expression"),
        ("country == 'US'", "invalid --where expression"),
        ("monthly_volume_usd like '1%'", "like needs a text field"),
        ("'US'", "invalid --where expression"),
        ("x" * 3000, "longer than"),
    ],
)
def test_where_refuses_anything_outside_the_language(where: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        compile_where(where)


def test_ids_file_and_other_selectors_combine(store: Store, tmp_path: Path) -> None:
    store.import_merchants(RECORDS)
    ids = tmp_path / "ids.txt"
    ids.write_text("c\n# a comment\na  # trailing\n\nd\na\n", encoding="utf-8")
    assert chosen(store, Selection(ids_file=str(ids))) == ["a", "c", "d"]
    assert chosen(store, Selection(ids_file=str(ids), where="country = 'US'")) == ["a"]
    ids.write_text("a\nnobody\n", encoding="utf-8")
    with pytest.raises(SelectionError, match="1 id\\(s\\) not in the records database: nobody"):
        chosen(store, Selection(ids_file=str(ids)))
    with pytest.raises(SelectionError, match="select merchants"):
        chosen(store, Selection())
    assert chosen(store, Selection(all=True)) == ["a", "b", "c", "d", "e"]


def review(
    store: Store,
    merchant_id: str,
    corpus_version: str,
    *,
    finding: str | None = None,
    retrieved: list[str] | None = None,
) -> str:
    record = store.get_merchant(merchant_id)
    assert record is not None
    review_id = store.start_review(
        merchant=record,
        website=record.website,
        engine="offline-test",
        model=None,
        prompt_version=None,
        corpus_version=corpus_version,
        settings_hash="0" * 64,
    )
    if retrieved is not None:
        output = {"rules": f"{len(retrieved)} items", "rule_ids": retrieved}
        store.record_event(review_id, AuditEvent(EventKind.STEP, "retrieve_rules", output=output))
    findings = []
    if finding is not None:
        category = Category(finding.split(".")[0])
        quote = PageCitation(url=record.website, quote="vapes")
        findings.append(
            Finding(rule_id=finding, category=category, rationale="r", citations=[quote])
        )
    verdict = Verdict(
        merchant_id=merchant_id,
        website=record.website,
        decision=Decision.REQUEST_INFO if findings else Decision.APPROVE,
        categories=[f.category for f in findings],
        confidence=0.9,
        findings=findings,
        engine="offline-test",
        corpus_version=corpus_version,
        review_id=review_id,
    )
    store.finish_review(review_id, verdict)
    return review_id


def edited_corpus(tmp_path: Path) -> PolicyCorpus:
    """The shipped corpus with one rule's description changed."""
    folder = tmp_path / "policy"
    shutil.copytree(data_dir("policy"), folder)
    rules = folder / "rules" / "tobacco_vaping.yaml"
    text = rules.read_text(encoding="utf-8")
    rules.write_text(
        text.replace("The merchant sells e-cigarettes", "The shop sells e-cigarettes", 1),
        encoding="utf-8",
    )
    return load_corpus(folder)


def test_changed_policy_selects_merchants_whose_previous_review_touched_a_changed_rule(
    store: Store, tmp_path: Path
) -> None:
    store.import_merchants(RECORDS)
    old, new = load_corpus(), edited_corpus(tmp_path)
    assert old.version != new.version
    with pytest.raises(UnknownCorpusVersion, match="was never recorded"):
        policy_target(store, old.version, new)
    snapshots.remember(store, old)
    snapshots.remember(store, old)  # once is enough; twice is harmless

    review(store, "a", old.version, finding=CHANGED_RULE)  # its finding names the rule
    review(store, "b", old.version, retrieved=[CHANGED_RULE, "gambling.online_casino"])
    review(store, "c", old.version, finding="gambling.online_casino")  # other rules only
    review(store, "d", old.version, finding=CHANGED_RULE)
    review(store, "d", new.version, finding=CHANGED_RULE)  # already under the new corpus
    # "e" was never reviewed

    target = policy_target(store, old.version, new)
    assert target.changes.changed == {CHANGED_RULE} and not target.changes.added
    selection = Selection(changed_policy_since=old.version)
    assert chosen(store, selection, target=target) == ["a", "b"]
    where = Selection(changed_policy_since=old.version, where="merchant_id != 'a'")
    assert chosen(store, where, target=target) == ["b"]


def test_rule_diffs_name_changed_removed_and_added_rules() -> None:
    old = {"x.a": {"sha256": "1", "category": "cbd"}, "x.b": {"sha256": "2", "category": "cbd"}}
    new = {
        "x.a": {"sha256": "9", "category": "cbd"},
        "x.c": {"sha256": "3", "category": "gambling"},
    }
    changes = snapshots.diff(old, new)  # type: ignore[arg-type]
    assert (changes.changed, changes.removed, changes.added) == ({"x.a"}, {"x.b"}, {"x.c"})
    assert changes.touched_ids == {"x.a", "x.b"}
    assert changes.added_categories == {Category.GAMBLING}
    assert snapshots.diff(old, old).empty  # type: ignore[arg-type]


def test_stale_days_selects_merchants_not_reviewed_recently(store: Store) -> None:
    store.import_merchants(RECORDS)
    review(store, "a", "corpus-x")
    review(store, "c", "corpus-x")
    assert chosen(store, Selection(stale_days=1)) == ["b", "d", "e"]
    assert chosen(store, Selection(stale_days=0)) == ["a", "b", "c", "d", "e"]
