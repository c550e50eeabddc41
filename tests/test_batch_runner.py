"""The local batch runner: every merchant once, incremental re-runs, stops and resumes."""

from __future__ import annotations

import gc
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from agent.scripted import ScriptedModel
from bench.synthetic import write_site
from merchant_review.batch import runs, service
from merchant_review.batch.changes import changes, summarize
from merchant_review.batch.process import FAULT_EXIT_CODE
from merchant_review.batch.schema import BatchItemRow, BatchRunRow
from merchant_review.batch.selection import Selection
from merchant_review.cli import app
from tests.batchsupport import SUBMIT, World, offline, run_reviews, scripted, world

pytest_plugins = ["tests.dbfixtures"]

cli = CliRunner()
EVERYONE = Selection(all=True)


def items(world: World, run_id: str) -> dict[str, BatchItemRow]:
    with world.store.session() as session:
        rows = session.scalars(select(BatchItemRow).where(BatchItemRow.run_id == run_id))
        return {row.merchant_id: row for row in rows}


def test_an_unchanged_base_is_carried_forward_without_a_single_model_call(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, 6) as w:
        model = ScriptedModel(default=ScriptedModel.always_submit(**SUBMIT))
        settings, engine = scripted(w.settings, model)
        ids = [m.record.merchant_id for m in w.merchants]

        first = service.create(settings, w.store, EVERYONE, engine, force=False)
        assert service.run_here(settings, w.store, first, engine)
        calls = len(model.requests)
        assert calls >= 6
        assert run_reviews(w.store, first.id)["real"] == dict.fromkeys(ids, 1)
        reviewed = {m: item.review_id for m, item in items(w, first.id).items()}

        again = service.create(settings, w.store, EVERYONE, engine, force=False)
        assert service.run_here(settings, w.store, again, engine)
        assert len(model.requests) == calls  # zero model calls
        assert summarize(w.store, again.id).statuses == {"carried": 6}
        assert {m: item.review_id for m, item in items(w, again.id).items()} == reviewed
        assert sum(run_reviews(w.store, again.id)["real"].values()) == 0  # no new review

        changed = w.merchants[0]
        write_site(changed.root, changed.record.dba or "", "pots", edition=2)
        third = service.create(settings, w.store, EVERYONE, engine, force=False)
        assert service.run_here(settings, w.store, third, engine)
        assert summarize(w.store, third.id).statuses == {"carried": 5, "reviewed": 1}
        assert items(w, third.id)[changed.record.merchant_id].status == "reviewed"
        assert calls < len(model.requests) <= calls + calls // 6

        forced = service.create(settings, w.store, EVERYONE, engine, force=True)
        assert service.run_here(settings, w.store, forced, engine)
        assert summarize(w.store, forced.id).statuses == {"reviewed": 6}
        model.assert_done()


def test_the_cli_runs_a_batch_and_lists_changed_decisions(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with world(database_url, tmp_path, 5) as w:
        for name, value in w.env().items():
            if name.startswith("MERCHANT_REVIEW_CRAWL"):
                monkeypatch.setenv(name, value)
        base = ["--database-url", database_url, "--engine", "offline"]
        first = cli.invoke(app, [*base, "batch", "--all", "--concurrency", "3", "--json"])
        assert first.exit_code == 0, first.output
        summary = json.loads(first.stdout)
        assert summary["statuses"] == {"reviewed": 5} and summary["changed_decisions"] == 0
        assert summary["decisions"] == {"approve": 4, "request_info": 1}

        pottery = w.merchants[0]
        write_site(pottery.root, "Pottery Shop 0", "vape pens, e-liquids and e-cigarettes", 2)
        second = cli.invoke(app, [*base, "batch", "--where", "country = 'US'", "--json"])
        assert second.exit_code == 0, second.output
        run_id = json.loads(second.stdout)["run_id"]
        assert json.loads(second.stdout)["statuses"] == {"carried": 2, "reviewed": 1}

        listed = cli.invoke(app, [*base, "batch", "changes", run_id[:10], "--json"])
        assert listed.exit_code == 0, listed.output
        (change,) = json.loads(listed.stdout)
        assert change["merchant_id"] == pottery.record.merchant_id
        assert change["old"]["decision"] == "approve"
        # A declared pottery shop now selling vapes: restricted goods, and not the business
        # its record declares (its own name on every page is no pottery for sale).
        assert (change["new"]["decision"], change["new"]["categories"]) == (
            "request_info",
            ["business_mismatch", "tobacco_vaping"],
        )
        assert change["old"]["review_id"] != change["new"]["review_id"]
        table = cli.invoke(app, [*base, "batch", "changes", run_id])
        assert pottery.record.merchant_id in table.output and "request_info" in table.output

        status = cli.invoke(app, [*base, "batch", "status", run_id, "--json"])
        record = json.loads(status.stdout)
        assert record["finished_at"] is not None and record["changed_decisions"] == 1
        assert record["selection"] == {"where": "country = 'US'"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "select merchants: --all, --ids FILE"),
        (["--where", "country = 'US' or 1 = 1"], "invalid --where expression"),
        (["--where", "password = 'x'"], "unknown field password"),
        (["--all", "--rate", "fast"], "invalid rate 'fast'"),
        (["--ids", "missing.txt"], "cannot read missing.txt"),
    ],
)
def test_bad_batch_options_are_refused_before_anything_is_written(
    tmp_path: Path, args: list[str], message: str
) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    result = cli.invoke(app, ["--database-url", url, "--engine", "offline", "batch", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    from merchant_review.storage import Store

    store = Store(url)
    with store.session() as session:
        assert session.scalars(select(BatchRunRow)).first() is None
    store.close()


def test_a_stopped_run_hands_its_claims_back_and_resumes_without_repeats(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, 8, batch={"concurrency": 3}) as w:
        engine = offline(w.settings)
        run = service.create(w.settings, w.store, EVERYONE, engine, force=False)
        finished: list[str] = []

        def stop_after_two(outcome: runs.Outcome) -> None:
            finished.append(outcome.status)
            if len(finished) == 2:
                signal.raise_signal(signal.SIGINT)  # Ctrl-C in the middle of the run

        with pytest.raises(KeyboardInterrupt):
            service.run_here(w.settings, w.store, run, engine, on_result=stop_after_two)
        left = runs.counts(w.store, run.id)
        assert "claimed" not in left and left["pending"] >= 1  # claims handed back

        assert service.run_here(w.settings, w.store, run, engine)
        found = run_reviews(w.store, run.id)
        assert found["real"] == {m.record.merchant_id: 1 for m in w.merchants}
        assert not found["open"]
        assert summarize(w.store, run.id).statuses == {"reviewed": 8}


def test_a_run_keeps_what_was_loaded_before_it_out_of_the_gc_and_hands_it_back(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, 3) as w:
        engine = offline(w.settings)
        run = service.create(w.settings, w.store, EVERYONE, engine, force=False)
        frozen: list[int] = []
        assert gc.get_freeze_count() == 0
        service.run_here(
            w.settings,
            w.store,
            run,
            engine,
            on_result=lambda _: frozen.append(gc.get_freeze_count()),
        )
        assert len(frozen) == 3 and min(frozen) > 0  # the engine, corpus, modules: frozen
        assert gc.get_freeze_count() == 0  # and collectable again once the run is over


def test_a_run_in_a_process_frozen_already_leaves_the_freeze_to_its_owner(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, 2) as w:
        engine = offline(w.settings)
        run = service.create(w.settings, w.store, EVERYONE, engine, force=False)
        gc.freeze()  # as a worker's prepare_worker_process does
        try:
            service.run_here(w.settings, w.store, run, engine)
            assert gc.get_freeze_count() > 0  # the run did not unfreeze the owner's heap
        finally:
            gc.unfreeze()


def test_a_run_killed_mid_review_resumes_with_no_merchant_lost_and_none_twice(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, 6) as w:
        command = [sys.executable, "-c", "from merchant_review.cli import main; main()"]
        env = w.env(MERCHANT_REVIEW_BATCH__FAULT_EXIT_AFTER_CLAIMS="3")
        killed = subprocess.run(
            [*command, "batch", "--all", "--concurrency", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert killed.returncode == FAULT_EXIT_CODE, killed.stderr
        with w.store.session() as session:
            (run_id,) = session.scalars(select(BatchRunRow.id))
        before = runs.counts(w.store, run_id)
        assert before.get("claimed", 0) >= 1 and before.get("reviewed", 0) < 6

        base = ["--database-url", w.settings.database_url, "--engine", "offline"]
        env_crawl = {k: v for k, v in w.env().items() if k.startswith("MERCHANT_REVIEW_CRAWL")}
        resumed = cli.invoke(app, [*base, "batch", "resume", run_id, "--json"], env=env_crawl)
        assert resumed.exit_code == 0, resumed.output
        assert json.loads(resumed.stdout)["statuses"] == {"reviewed": 6}

        found = run_reviews(w.store, run_id)
        assert found["real"] == {m.record.merchant_id: 1 for m in w.merchants}
        assert sum(found["abandoned"].values()) >= 1  # the review the kill interrupted
        assert not found["open"]
        retried = [i for i in items(w, run_id).values() if i.attempts > 1]
        assert set(found["abandoned"]) <= {i.merchant_id for i in retried}
        assert changes(w.store, run_id) == []
