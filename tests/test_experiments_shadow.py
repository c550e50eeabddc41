"""Shadow mode end to end: a batch run with a challenger beside the champion (offline engine).

The challenger differs by one threshold (approve_min_confidence 0.99), so it escalates
merchants the champion approves: real disagreements, on local sites, on SQLite and
PostgreSQL. The challenger must never act.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from agent.assessor import Assessor
from agent.llm import LLMAssessor
from agent.prompts import PromptSet
from agent.scripted import SCRIPTED_BASE_URL, Reply, Request, ScriptedModel, tool_choice_name
from merchant_review.audit_verify import verify_audit_log
from merchant_review.batch import service
from merchant_review.batch.changes import summarize
from merchant_review.batch.schema import BatchItemRow
from merchant_review.batch.selection import Selection
from merchant_review.cli import app
from merchant_review.experiments import configs, shadow
from merchant_review.experiments.assign import assigned
from merchant_review.experiments.report import experiment_report
from merchant_review.experiments.schema import ShadowReviewRow
from merchant_review.experiments.spec import ConfigSpec
from merchant_review.settings import EngineChoice, Settings
from merchant_review.storage import Store
from merchant_review.storage.schema import EventRow, ReviewRow
from merchant_review.web.queries import QueueFilter, latest_decisions, review_queue
from tests.batchsupport import SUBMIT, World, world

pytest_plugins = ["tests.dbfixtures"]

cli = CliRunner()
COUNT = 12
SHARE = 0.5


def crawl_env(w: World, env: pytest.MonkeyPatch) -> None:
    """The world's crawl settings (its local sites) in the environment the CLI reads."""
    for name, value in w.env().items():
        if name.startswith("MERCHANT_REVIEW_CRAWL"):
            env.setenv(name, value)


def shadows(w: World) -> list[ShadowReviewRow]:
    with w.store.session() as session:
        return list(session.scalars(select(ShadowReviewRow)))


def item_rows(w: World, run_id: str) -> dict[str, BatchItemRow]:
    with w.store.session() as session:
        rows = session.scalars(select(BatchItemRow).where(BatchItemRow.run_id == run_id))
        return {row.merchant_id: row for row in rows}


def run_batch(base: list[str], *extra: str) -> dict[str, object]:
    result = cli.invoke(app, [*base, "batch", "--all", "--concurrency", "3", "--json", *extra])
    assert result.exit_code == 0, result.output
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return monkeypatch


def test_a_shadow_challenger_reviews_its_share_and_never_acts(
    database_url: str, tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    with world(database_url, tmp_path, COUNT) as w:
        crawl_env(w, env)
        base = ["--database-url", database_url, "--engine", "offline"]
        ids = [m.record.merchant_id for m in w.merchants]
        configs.create(w.store, "current", ConfigSpec(engine="offline"), actor="t")
        strict = configs.create(
            w.store,
            "strict",
            ConfigSpec(engine="offline", approve_min_confidence=0.99),
            actor="t",
            seed=splitting_seed(ids),
        )
        expected = {m for m in ids if assigned(strict.seed, m, SHARE)}
        assert 0 < len(expected) < COUNT  # the seed puts some in and some out

        first = run_batch(base, "--shadow", "strict", "--share", str(SHARE))
        # The run's decisions are the champion's: approve / request_info, never escalate.
        assert first["decisions"] == {"approve": 10, "request_info": 2}
        found = shadows(w)
        assert {s.merchant_id for s in found} == expected  # exactly the assigned share
        items = item_rows(w, str(first["run_id"]))
        assert {s.champion_review_id for s in found} == {items[m].review_id for m in expected}

        with w.store.session() as session:
            for shadow in found:
                review = session.get_one(ReviewRow, shadow.challenger_review_id)
                assert review.trigger == "shadow" and review.batch_run_id is None
                link = session.scalars(
                    select(EventRow).where(EventRow.review_id == review.id, EventRow.seq == 1)
                ).one()
                assert link.name == "shadow_of"
                assert link.input["value"]["champion_review_id"] == shadow.champion_review_id
        escalated = 0
        for shadow in found:
            stored = w.store.get_review(shadow.challenger_review_id)
            assert stored is not None and stored.verdict is not None
            escalated += stored.verdict.decision == "escalate"
            # The challenger judged the champion's crawl: the same pages, none fetched again.
            champion = w.store.get_review(shadow.champion_review_id)
            assert champion is not None
            assert [p.url for p in stored.pages] == [p.url for p in champion.pages]
        assert escalated > 0  # the threshold made real disagreements

        # Not the merchants' current verdict, previous review or prior review.
        current = latest_decisions(w.store, ids)
        assert set(current.values()) <= {"approve", "request_info"}
        challenger_ids = {s.challenger_review_id for s in found}
        for merchant in expected:
            prior = {r["review_id"] for r in w.store.prior_reviews(merchant, limit=50)}
            assert not prior & challenger_ids

        # A second run (shadowing again) carries every champion verdict forward and changes
        # nothing; champion reviews already shadowed are not shadowed twice.
        second = run_batch(base, "--shadow", "strict", "--share", str(SHARE))
        assert second["statuses"] == {"carried": COUNT} and second["changed_decisions"] == 0
        assert summarize(w.store, str(second["run_id"])).changed == 0
        assert len(shadows(w)) == len(found)
        # A challenger review replays like any other, on its stored evidence and settings.
        replayed = cli.invoke(app, [*base, "replay", found[0].challenger_review_id, "--json"])
        assert replayed.exit_code == 0 and json.loads(replayed.stdout)["reproduced"]
        changes = cli.invoke(app, [*base, "batch", "changes", str(second["run_id"]), "--json"])
        assert json.loads(changes.stdout) == []
        assert verify_audit_log(w.store).ok

        # Disagreements are queued for analysts, with the reason.
        queue = review_queue(w.store, QueueFilter(threshold=0.0, per_page=100))
        flagged = {i.review_id for i in queue.items if "challenger strict disagrees" in i.reason}
        disagreeing = set()
        for shadow in found:
            stored = w.store.get_review(shadow.challenger_review_id)
            champion = w.store.get_review(shadow.champion_review_id)
            assert stored and stored.verdict and champion and champion.verdict
            if stored.verdict.decision != champion.verdict.decision:
                disagreeing.add(shadow.champion_review_id)
        assert flagged == disagreeing
        assert not {i.review_id for i in queue.items} & challenger_ids

        report = cli.invoke(app, [*base, "experiment", "report", "strict", "--json"])
        assert report.exit_code == 0, report.output
        figures = json.loads(report.stdout)
        assert figures["pairs"] == len(found) and figures["champion"] == "current"
        assert figures["agreement_matrix"]["approve"]["escalate"] == len(disagreeing)
        assert len(figures["disagreements"]) == len(disagreeing)
        assert figures["decision"] == "continue"  # no analyst labels yet
        text = cli.invoke(app, [*base, "experiment", "report", "strict"])
        assert "disagreement rate" in text.output and "continue" in text.output

        refused = cli.invoke(app, [*base, "experiment", "promote", "strict", "--by", "kim"])
        assert refused.exit_code == 1 and "says continue" in refused.output
        assert configs.champion(w.store) is not None
        assert configs.get(w.store, "current").role == "champion"


def test_shadow_options_are_checked_before_a_run_starts(
    database_url: str, tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    with world(database_url, tmp_path, 2) as w:
        base = ["--database-url", database_url, "--engine", "offline"]
        unknown = cli.invoke(app, [*base, "batch", "--all", "--shadow", "nope"])
        assert unknown.exit_code == 2 and "no configuration named 'nope'" in unknown.output
        configs.create(w.store, "current", ConfigSpec(), actor="t")
        champion = cli.invoke(app, [*base, "batch", "--all", "--shadow", "current"])
        assert champion.exit_code == 2 and "not a challenger" in champion.output
        with w.store.session() as session:
            assert session.scalars(select(BatchItemRow)).first() is None


def test_the_cli_creates_configurations_and_the_settings_can_ask_for_shadow_mode(
    database_url: str, tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    with world(database_url, tmp_path, 3) as w:
        crawl_env(w, env)
        base = ["--database-url", database_url, "--engine", "offline"]
        made = cli.invoke(app, [*base, "experiment", "create", "current", "--engine", "offline"])
        assert made.exit_code == 0 and "created champion current" in made.output
        args = ["--approve-min-confidence", "0.99", "--price-in", "3", "--description", "strict"]
        made = cli.invoke(app, [*base, "experiment", "create", "strict", *args])
        assert made.exit_code == 0 and "created challenger strict" in made.output
        bad = cli.invoke(app, [*base, "experiment", "create", "x", "--temperature", "9"])
        assert bad.exit_code == 2
        for folder in ("--prompts-dir", "--policy-dir"):
            bad = cli.invoke(app, [*base, "experiment", "create", "x", folder, str(tmp_path)])
            assert bad.exit_code == 2 and "error:" in bad.output, bad.output
        listed = json.loads(cli.invoke(app, [*base, "experiment", "list", "--json"]).stdout)
        assert [(c["name"], c["role"]) for c in listed] == [
            ("current", "champion"),
            ("strict", "challenger"),
        ]
        assert listed[1]["spec"] == {
            "approve_min_confidence": 0.99,
            "price_in_per_mtok": 3.0,
            "price_out_per_mtok": 0.0,
        }

        env.setenv("MERCHANT_REVIEW_EXPERIMENT__SHADOW", "strict")
        env.setenv("MERCHANT_REVIEW_EXPERIMENT__SHARE", "1.0")
        summary = run_batch(base)
        assert {s.merchant_id for s in shadows(w)} == {m.record.merchant_id for m in w.merchants}
        run = item_rows(w, str(summary["run_id"]))
        assert {s.champion_review_id for s in shadows(w)} == {i.review_id for i in run.values()}


def test_a_resumed_run_shadows_as_it_was_started(
    database_url: str, tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    with world(database_url, tmp_path, 4) as w:
        crawl_env(w, env)
        configs.create(w.store, "current", ConfigSpec(engine="offline"), actor="t")
        configs.create(w.store, "strict", ConfigSpec(approve_min_confidence=0.99), actor="t")
        plan = shadow.plan(w.store, "strict", 1.0)
        settings = shadow.champion_settings(w.settings, {shadow.OPTION: plan.record()})
        run = service.create(
            settings, w.store, Selection(all=True), service.Engine.from_settings(settings),
            force=False,
        )  # fmt: skip
        shadow.attach(w.store, run.id, {shadow.OPTION: plan.record()})  # then stopped
        base = ["--database-url", database_url, "--engine", "offline"]
        resumed = cli.invoke(app, [*base, "batch", "resume", run.id, "--json"])
        assert resumed.exit_code == 0, resumed.output
        assert json.loads(resumed.stdout)["statuses"] == {"reviewed": 4}
        assert len(shadows(w)) == 4
        assert {s.batch_run_id for s in shadows(w)} == {run.id}


def test_a_challenger_that_cannot_run_here_is_refused_before_the_run(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, 2) as w:
        configs.create(w.store, "current", ConfigSpec(engine="offline"), actor="t")
        configs.create(w.store, "llm", ConfigSpec(engine="llm"), actor="t")  # no model set
        base = ["--database-url", database_url, "--engine", "offline"]
        refused = cli.invoke(app, [*base, "batch", "--all", "--shadow", "llm"])
        assert refused.exit_code == 2 and "error:" in refused.output, refused.output
        with w.store.session() as session:
            assert session.scalars(select(BatchItemRow)).first() is None


def test_an_llm_challenger_sees_the_history_the_champion_saw_and_its_cost_is_reported(
    database_url: str, tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    HISTORY_SEEN.clear()
    model = ScriptedModel(default=_asks_history_then_submits)
    real_build = shadow.build_assessor

    def build(settings: Settings) -> Assessor:  # the challenger talks to the scripted model
        if settings.resolved_engine() is EngineChoice.LLM:
            return LLMAssessor(model.client(), settings.model, PromptSet.load())
        return real_build(settings)

    env.setattr(shadow, "build_assessor", build)
    with world(database_url, tmp_path, 2) as w:
        crawl_env(w, env)
        base = ["--database-url", database_url, "--engine", "offline"]
        configs.create(w.store, "current", ConfigSpec(engine="offline"), actor="t")
        spec = ConfigSpec(
            engine="llm",
            model_name="scripted",
            model_base_url=SCRIPTED_BASE_URL,
            price_in_per_mtok=1.0,
            price_out_per_mtok=4.0,
        )
        configs.create(w.store, "llm", spec, actor="t")
        first = run_batch(base)  # the champion alone
        second = run_batch(base, "--force", "--shadow", "llm", "--share", "1")
        assert second["statuses"] == {"reviewed": 2}
        before = item_rows(w, str(first["run_id"]))
        now = item_rows(w, str(second["run_id"]))
        assert len(HISTORY_SEEN) == 2
        for merchant_id, seen in HISTORY_SEEN.items():
            ids = {r["review_id"] for r in seen}
            # The champion's earlier review, not the one the challenger shadows.
            assert ids == {before[merchant_id].review_id}
            assert now[merchant_id].review_id not in ids

        figures = experiment_report(w.store, "llm").record()
        usage = figures["usage_per_review"]["challenger"]
        assert usage["llm_calls"] >= 2 and usage["prompt_tokens"] > 0
        expected = (usage["prompt_tokens"] * 1.0 + usage["completion_tokens"] * 4.0) / 1e6
        assert usage["cost_usd"] == pytest.approx(expected)
        assert figures["usage_per_review"]["champion"]["cost_usd"] == 0


HISTORY_SEEN: dict[str, list[dict[str, Any]]] = {}


def _asks_history_then_submits(request: Request) -> Reply:
    """Ask for the prior reviews once, note what came back, then submit an approve."""
    results = [m for m in request["messages"] if m.get("role") == "tool"]
    if results:
        data = json.loads(results[-1]["content"])
        profile = next(
            (m for m in request["messages"] if "merchant_id" in str(m.get("content"))), {}
        )
        merchant = re.search(r"m\d{6}", str(profile.get("content")))
        HISTORY_SEEN[merchant.group(0) if merchant else "?"] = data["reviews"]
    if results or tool_choice_name(request) == "submit_verdict":
        return ScriptedModel.always_submit(**SUBMIT)(request)
    return ScriptedModel.tool_call("get_prior_reviews")


def test_a_batch_reviews_with_the_champion_configuration_when_there_is_one(
    database_url: str, tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    with world(database_url, tmp_path, 3) as w:
        crawl_env(w, env)
        base = ["--database-url", database_url, "--engine", "offline"]
        plain = run_batch(base, "--force")
        assert "escalate" not in plain["decisions"]  # the running settings approve
        strict = ConfigSpec(approve_min_confidence=0.99)
        configs.create(w.store, "strict", strict, actor="t")  # the first: the champion
        judged = run_batch(base, "--force")
        assert judged["decisions"].get("escalate", 0) > 0  # type: ignore[attr-defined]
        run_id = str(judged["run_id"])
        status = cli.invoke(app, [*base, "batch", "status", run_id, "--json"])
        options = json.loads(status.stdout)["options"]
        assert options["champion"] == {"name": "strict", "spec": strict.record()}
        assert "shadow" not in options


def test_a_configurations_prompt_set_is_used_with_and_without_a_rate_limit(
    database_url: str, tmp_path: Path
) -> None:
    custom = tmp_path / "prompts"
    shutil.copytree(Path(__file__).parent.parent / "prompts", custom)
    with (custom / "system.md").open("a", encoding="utf-8") as system:
        system.write("\nBe brief.\n")
    version = PromptSet.load(custom).version
    assert version != PromptSet.load().version
    store = Store(database_url)
    try:
        configs.create(store, "current", ConfigSpec(engine="offline"), actor="t")
        llm = ConfigSpec(
            engine="llm", model_name="m", model_base_url=SCRIPTED_BASE_URL, prompts_dir=custom
        )
        configs.create(store, "llm", llm, actor="t")
        plan = shadow.plan(store, "llm", 0.5)
        for rate in (None, "5/s"):
            base = Settings(database_url=database_url)
            settings = base.model_copy(
                update={"batch": base.batch.model_copy(update={"rate": rate})}
            )
            runner = shadow.ShadowRunner(settings, store, plan, None)
            used = getattr(runner.assessor, "prompt_version", "")
            assert used.split("+")[0] == version, rate  # "+snippets-...": the snippet model
            # ... and when a champion names it, the batch's own engine uses it too.
            champion = llm.apply(settings)
            engine = service.Engine.from_settings(champion)
            used = getattr(engine.assessor, "prompt_version", "")
            assert used.split("+")[0] == version, rate
    finally:
        store.close()


def test_a_shadow_setting_naming_no_challenger_fails_the_review_before_it_starts(
    database_url: str, tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    with world(database_url, tmp_path, 2) as w:
        crawl_env(w, env)
        configs.create(w.store, "current", ConfigSpec(engine="offline"), actor="t")
        env.setenv("MERCHANT_REVIEW_EXPERIMENT__SHADOW", "nosuchconfig")
        merchant = w.merchants[0].record.merchant_id
        base = ["--database-url", database_url, "--engine", "offline"]
        result = cli.invoke(app, [*base, "review", merchant, "--json"])
        assert result.exit_code == 2
        assert "nosuchconfig" in result.output
        with w.store.session() as session:
            assert list(session.scalars(select(ReviewRow))) == []  # nothing was reviewed


def splitting_seed(ids: list[str]) -> str:
    """A seed whose assignment puts some of `ids` in the share and some out."""
    return next(
        seed
        for seed in (f"seed-{n}" for n in range(1000))
        if 0 < sum(assigned(seed, merchant, SHARE) for merchant in ids) < len(ids)
    )


def test_a_single_review_runs_as_the_champion_and_is_shadowed_when_the_settings_ask(
    database_url: str, tmp_path: Path, env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with world(database_url, tmp_path, 6) as w:
        crawl_env(w, env)
        base = ["--database-url", database_url, "--engine", "offline"]
        ids = [m.record.merchant_id for m in w.merchants]
        configs.create(w.store, "current", ConfigSpec(engine="offline"), actor="t")
        strict = configs.create(
            w.store,
            "strict",
            ConfigSpec(engine="offline", approve_min_confidence=0.99),
            actor="t",
            seed=splitting_seed(ids),  # a random seed leaves all 6 in or out 1 time in 32
        )
        reviewed = cli.invoke(app, [*base, "review", ids[0], "--json"])
        assert reviewed.exit_code == 0, reviewed.output
        assert shadows(w) == []  # shadow mode is off: nothing but the champion's review

        env.setenv("MERCHANT_REVIEW_EXPERIMENT__SHADOW", "strict")
        env.setenv("MERCHANT_REVIEW_EXPERIMENT__SHARE", str(SHARE))
        verdicts = {}
        for merchant in ids:
            result = cli.invoke(app, [*base, "review", merchant, "--json"])
            assert result.exit_code == 0, result.output
            verdicts[merchant] = json.loads(result.stdout)
        # A failed challenger is only logged (it must never fail the champion's review).
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
        found = shadows(w)
        assert 0 < len(found) < len(ids)  # the seed puts some merchants in and some out
        assert {s.merchant_id for s in found} == {m for m in ids if assigned(strict.seed, m, SHARE)}
        assert {s.champion_review_id for s in found} <= {v["review_id"] for v in verdicts.values()}
        assert all(s.batch_run_id is None for s in found)
        # What the CLI printed, and what acts, is the champion's verdict, never the challenger's.
        assert {v["decision"] for v in verdicts.values()} <= {"approve", "request_info"}
        current = latest_decisions(w.store, ids)
        assert current == {m: v["decision"] for m, v in verdicts.items()}
        assert verify_audit_log(w.store).ok
