"""The experiment report on a constructed history with known answers (SQLite, PostgreSQL).

40 merchants, each with a champion review and a challenger (shadow) review written through
the Store, analysts' overrides on 20 champion reviews, and recorded step latencies and
token use. Every figure the report gives is worked out by hand below.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from merchant_review.audit import AuditEvent, EventKind
from merchant_review.cli import app
from merchant_review.experiments import configs, log
from merchant_review.experiments.pairs import load_pairs
from merchant_review.experiments.report import experiment_report
from merchant_review.experiments.schema import ShadowReviewRow
from merchant_review.experiments.spec import ConfigSpec
from merchant_review.providers import ModelPrice
from merchant_review.records import MerchantRecord
from merchant_review.settings import Settings
from merchant_review.storage import Store
from merchant_review.taxonomy import Category, Decision
from merchant_review.verdict import Finding, PageCitation, Usage, Verdict
from merchant_review.web.accounts import Accounts, Role
from merchant_review.web.app import create_app
from merchant_review.web.config import WebSettings
from merchant_review.web.queries import QueueFilter, review_queue
from tests.dbtools import query, tamper

pytest_plugins = ["tests.dbfixtures"]

cli = CliRunner()
A, E, R = Decision.APPROVE, Decision.ESCALATE, Decision.REQUEST_INFO

# (champion decision, challenger decision, analyst label or None), by merchant number.
HISTORY: list[tuple[Decision, Decision, Decision | None]] = (
    [(A, A, A)] * 6  # confirmed: both right
    + [(A, A, None)] * 14
    + [(E, E, A)]  # both wrong
    + [(E, E, None)]
    + [(E, A, A)] * 4  # challenger right
    + [(A, E, E)] * 8  # challenger right
    + [(A, E, A)]  # champion right
    + [(A, R, None)] * 5
)
PRICE_IN, PRICE_OUT = 2.0, 8.0  # USD per million tokens, the challenger's
TOKENS_IN, TOKENS_OUT = 1000, 200  # per challenger review


def merchant(number: int) -> MerchantRecord:
    return MerchantRecord(merchant_id=f"m{number:03d}", website=f"https://m{number}.example/")


def review(store: Store, number: int, decision: Decision, *, shadow: bool) -> str:
    record = merchant(number)
    review_id = store.start_review(
        merchant=record,
        website=record.website,
        engine="llm:test" if shadow else "offline-test",
        model="test" if shadow else None,
        prompt_version=None,
        corpus_version="corpus-x",
        settings_hash="0" * 64,
        trigger="shadow" if shadow else "batch",
    )
    steps = [("assess", 300.0), ("decide", 10.0)] if shadow else [
        ("crawl_website", 500.0), ("assess", 100.0), ("decide", 10.0)
    ]  # fmt: skip
    for name, ms in steps:
        store.record_event(review_id, AuditEvent(EventKind.STEP, name, latency_ms=ms))
    usage = Usage(llm_calls=2, prompt_tokens=TOKENS_IN, completion_tokens=TOKENS_OUT)
    store.finish_review(
        review_id,
        Verdict(
            merchant_id=record.merchant_id,
            website=record.website,
            decision=decision,
            categories=[],
            confidence=0.8,
            engine="x",
            corpus_version="corpus-x",
            usage=usage if shadow else Usage(),
            review_id=review_id,
        ),
    )
    return review_id


def build_history(store: Store, *, priced: bool = True) -> None:
    """The history; `priced`: the challenger's configuration names its prices."""
    store.import_merchants(merchant(n) for n in range(len(HISTORY)))
    configs.create(store, "current", ConfigSpec(engine="offline"), actor="t")
    prices = {"price_in_per_mtok": PRICE_IN, "price_out_per_mtok": PRICE_OUT} if priced else {}
    configs.create(store, "bigger", ConfigSpec.parse({"engine": "llm", **prices}), actor="t")
    for number, (champion, challenger, label) in enumerate(HISTORY):
        champion_id = review(store, number, champion, shadow=False)
        challenger_id = review(store, number, challenger, shadow=True)
        with store.write_session() as session:
            session.add(
                ShadowReviewRow(
                    challenger_review_id=challenger_id,
                    champion_review_id=champion_id,
                    config="bigger",
                    merchant_id=merchant(number).merchant_id,
                    batch_run_id=None,
                    share=1.0,
                    created_at=datetime.now(UTC),
                )
            )
        if label is not None:
            store.add_override(champion_id, decision=label, reason="checked", analyst="kim")


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The textbook Wilson score interval, written out independently of the code."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_the_report_gives_the_known_figures_of_a_constructed_history(store: Store) -> None:
    build_history(store)
    found = experiment_report(store, "bigger").record()

    assert (found["pairs"], found["merchants"], found["champion"]) == (40, 40, "current")
    assert found["versions"] == {
        "champion": {"offline-test corpus-x": 40},
        "challenger": {"llm:test test corpus-x": 40},
    }
    matrix = found["agreement_matrix"]
    assert matrix["approve"] == {"approve": 20, "escalate": 9, "request_info": 5, "reject": 0}
    assert matrix["escalate"] == {"approve": 4, "escalate": 2, "request_info": 0, "reject": 0}
    assert sum(matrix["reject"].values()) == sum(matrix["request_info"].values()) == 0
    assert found["disagreement_rate"]["estimate"] == pytest.approx(18 / 40)
    low, high = found["disagreement_rate"]["low"], found["disagreement_rate"]["high"]
    w_low, w_high = wilson(18, 40)
    assert low < w_low and high > w_high  # always valid: wider than a one-look interval
    assert len(found["disagreements"]) == 18

    champion, challenger = found["usage_per_review"].values()
    assert champion["latency_ms_mean"] == pytest.approx(110.0)  # the crawl is left out
    assert challenger["latency_ms_mean"] == pytest.approx(310.0)
    assert (champion["llm_calls"], champion["cost_usd"]) == (0, 0)
    assert challenger["llm_calls"] == 2 and challenger["prompt_tokens"] == TOKENS_IN
    assert challenger["cost_usd"] == pytest.approx((1000 * 2.0 + 200 * 8.0) / 1e6)

    assert found["labelled_pairs"] == 20
    accuracy = found["accuracy"]
    assert accuracy["champion"]["estimate"] == pytest.approx(7 / 20)
    assert accuracy["challenger"]["estimate"] == pytest.approx(18 / 20)
    for side, k in (("champion", 7), ("challenger", 18)):
        assert (accuracy[side]["low"], accuracy[side]["high"]) == pytest.approx(wilson(k, 20))

    test = found["sequential_test"]
    assert test["challenger_right_champion_wrong"] == 12
    assert test["champion_right_challenger_wrong"] == 1
    assert found["decision"] == "promote"


def test_without_its_own_prices_a_configuration_is_costed_by_the_settings_prices(
    store: Store,
) -> None:
    build_history(store, priced=False)
    unknown = experiment_report(store, "bigger").record()["usage_per_review"]
    assert unknown["challenger"]["cost_usd"] is None  # tokens, but no price for model "test"
    assert unknown["champion"]["cost_usd"] == 0  # no tokens: costs nothing
    prices = {"test": ModelPrice(prompt_per_mtok=PRICE_IN, completion_per_mtok=PRICE_OUT)}
    known = experiment_report(store, "bigger", prices=prices).record()["usage_per_review"]
    assert known["challenger"]["cost_usd"] == pytest.approx((1000 * 2.0 + 200 * 8.0) / 1e6)


def finished(store: Store, record: MerchantRecord, decision: Decision, **extra: object) -> str:
    """A finished review of `record` with `decision`; `findings` and `trigger` as given."""
    trigger = str(extra.pop("trigger", "batch"))
    review_id = store.start_review(
        merchant=record,
        website=record.website,
        engine="e",
        model=None,
        prompt_version=None,
        corpus_version="c",
        settings_hash="0" * 64,
        trigger=trigger,
    )
    verdict = Verdict.model_validate(
        {
            "merchant_id": record.merchant_id,
            "website": record.website,
            "decision": decision,
            "categories": [],
            "confidence": 0.5,
            "engine": "e",
            "corpus_version": "c",
            "review_id": review_id,
            **extra,
        }
    )
    store.finish_review(review_id, verdict)
    return review_id


def test_a_disagreement_cites_both_verdicts(store: Store) -> None:
    record = merchant(1)
    store.import_merchants([record])
    configs.create(store, "current", ConfigSpec(), actor="t")
    configs.create(store, "other", ConfigSpec(reject_min_confidence=0.9), actor="t")
    quote = PageCitation(url=record.website, quote="replica watches")
    finding = Finding(
        rule_id="ip.replicas", category=Category.COUNTERFEIT_IP, rationale="r", citations=[quote]
    )
    champion_id = finished(store, record, Decision.APPROVE)
    challenger_id = finished(store, record, E, findings=[finding], trigger="shadow")
    with store.write_session() as session:
        session.add(
            ShadowReviewRow(
                challenger_review_id=challenger_id,
                champion_review_id=champion_id,
                config="other",
                merchant_id=record.merchant_id,
                batch_run_id=None,
                share=1.0,
                created_at=datetime.now(UTC),
            )
        )
    (item,) = experiment_report(store, "other").record()["disagreements"]
    assert item["champion"]["decision"] == "approve" and item["champion"]["citations"] == []
    cited = {"rule_id": "ip.replicas", "kind": "page", "url": record.website}
    assert item["challenger"]["citations"] == [{**cited, "quote": "replica watches"}]
    table = cli.invoke(app, ["--database-url", store.url, "experiment", "report", "other"])
    assert table.exit_code == 0, table.output
    assert "replica watches" in table.output and "ip.replicas" in table.output


def test_promotion_is_logged_with_its_report_and_the_log_is_tamper_evident(
    store: Store,
) -> None:
    build_history(store)
    base = ["--database-url", store.url]
    queue = review_queue(store, QueueFilter(threshold=0.0, per_page=100))
    assert sum("challenger bigger disagrees" in i.reason for i in queue.items) > 0

    promoted = cli.invoke(app, [*base, "experiment", "promote", "bigger", "--by", "kim"])
    assert promoted.exit_code == 0, promoted.output
    assert configs.champion(store) == configs.get(store, "bigger")
    assert configs.get(store, "current").role == "challenger"
    kinds = [(e.kind, e.config, e.actor) for e in log.entries(store)]
    assert kinds == [("create", "current", "t"), ("create", "bigger", "t"),
                     ("promote", "bigger", "kim")]  # fmt: skip
    payload = log.entries(store)[-1].payload
    assert payload["previous_champion"] == "current"
    assert payload["report"]["decision"] == "promote" and payload["report"]["forced"] is False
    assert payload["report"]["sequential_test"]["challenger_right_champion_wrong"] == 12

    # The promoted challenger's disagreements leave the queue: it is no longer a challenger.
    queue = review_queue(store, QueueFilter(threshold=0.0, per_page=100))
    assert not any("disagrees" in i.reason for i in queue.items)

    listed = cli.invoke(app, [*base, "experiment", "list", "--json"])
    assert [(c["name"], c["role"]) for c in json.loads(listed.stdout)] == [
        ("bigger", "champion"), ("current", "challenger")
    ]  # fmt: skip
    history = cli.invoke(app, [*base, "experiment", "log"])
    assert history.exit_code == 0 and "chain ok" in history.output
    audit = cli.invoke(app, [*base, "audit", "verify"])
    assert audit.exit_code == 0 and "experiment log intact: 3 entries" in audit.output

    with pytest.raises(DBAPIError, match="append-only"):
        query(store.url, "UPDATE experiment_log SET actor = 'eve' WHERE seq = 2")
    tamper(store.url, "UPDATE experiment_log SET actor = 'eve' WHERE seq = 2")
    check = log.verify(store)
    assert not check.ok and "#2 (promote)" in (check.problem or "") and "actor" in check.problem
    broken = cli.invoke(app, [*base, "experiment", "log"])
    assert broken.exit_code == 1 and "BROKEN" in broken.output
    audit = cli.invoke(app, [*base, "audit", "verify"])
    assert audit.exit_code == 1 and "experiment log BROKEN" in audit.output


def test_only_a_challenger_can_be_promoted_and_one_champion_exists(store: Store) -> None:
    configs.create(store, "a", ConfigSpec(), actor="t")
    with pytest.raises(configs.ExperimentError, match="'a' is the champion"):
        configs.create(store, "b", ConfigSpec(), actor="t", champion=True)
    configs.create(store, "b", ConfigSpec(approve_min_confidence=0.7), actor="t")
    with pytest.raises(configs.ExperimentError, match="only a challenger"):
        configs.promote(store, "a", actor="t", report={})
    with pytest.raises(configs.ExperimentError, match="exists already"):
        configs.create(store, "b", ConfigSpec(), actor="t")
    configs.retire(store, "b", actor="t", reason="worse")
    with pytest.raises(configs.ExperimentError, match="is the retired, not a challenger"):
        experiment_report(store, "b")
    with pytest.raises(DBAPIError):  # the database holds one champion at most
        query(store.url, "UPDATE experiment_configs SET role = 'champion' WHERE name = 'b'")
    assert [c.role for c in configs.listing(store)] == ["champion", "retired"]


def test_the_web_queue_lists_exactly_a_challengers_disagreements(
    store: Store, tmp_path: Path
) -> None:
    build_history(store)
    accounts = Accounts(store)
    accounts.add_user("vera", Role.VIEWER, None)
    headers = {"Authorization": f"Bearer {accounts.create_token('vera', 'tests')}"}
    pairs = load_pairs(store, "bigger")
    wanted = {p.champion.review_id for p in pairs if not p.agree and p.label is None}
    assert len(wanted) == 5  # the five request_info disagreements no analyst has labelled yet

    app_ = create_app(Settings(database_url=store.url), WebSettings(reports_dir=tmp_path))
    with TestClient(app_, base_url="http://testserver") as client:
        found = client.get("/api/queue?experiment=bigger&per_page=200", headers=headers)
        assert found.status_code == 200, found.text
        items = found.json()["items"]
        assert {i["review_id"] for i in items} == wanted
        assert all("challenger bigger disagrees" in i["reason"] for i in items)
        other = client.get("/api/queue?experiment=nobody", headers=headers)
        assert other.status_code == 200 and other.json()["items"] == []
