"""Shadow mode on Celery workers: the worker reviews with the champion's configuration and
shadows with the challenger, as the run recorded (PostgreSQL + Redis, like the batch suite).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from merchant_review.batch import runs, service
from merchant_review.batch.changes import summarize
from merchant_review.batch.distributed import enqueue, make_app, watch
from merchant_review.batch.selection import Selection
from merchant_review.experiments import configs, shadow
from merchant_review.experiments.schema import ShadowReviewRow
from merchant_review.experiments.spec import ConfigSpec
from tests.batchsupport import world
from tests.dbtools import DATABASE_URL, NO_POSTGRES, postgres_schema
from tests.test_batch_distributed import REDIS_URL, queue_keys, start_worker, stop

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not DATABASE_URL, reason=NO_POSTGRES),
    pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set: distributed runs skipped"),
]


def test_a_worker_shadows_a_distributed_run_as_it_was_started(tmp_path: Path) -> None:
    queue = f"mr-test-{uuid.uuid4().hex[:10]}"
    batch = {"queue_url": REDIS_URL, "queue_name": queue, "poll_s": 0.2}
    with postgres_schema() as url, world(url, tmp_path, 4, batch=batch) as w, queue_keys(queue):
        configs.create(w.store, "current", ConfigSpec(engine="offline"), actor="t")
        configs.create(w.store, "strict", ConfigSpec(approve_min_confidence=0.99), actor="t")
        plan = shadow.plan(w.store, "strict", 1.0)
        settings = shadow.champion_settings(w.settings, {shadow.OPTION: plan.record()})
        engine = service.Engine.from_settings(settings)
        run = service.create(settings, w.store, Selection(all=True), engine, force=False)
        shadow.attach(w.store, run.id, {shadow.OPTION: plan.record()})
        app = make_app(w.settings)
        assert enqueue(app, run.id, runs.unfinished(w.store, run.id)) == 4
        env = w.env(
            MERCHANT_REVIEW_BATCH__QUEUE_URL=REDIS_URL, MERCHANT_REVIEW_BATCH__QUEUE_NAME=queue
        )
        log = tmp_path / "worker.log"
        worker = start_worker(env, log)
        try:
            assert watch(app, w.store, w.settings, run.id, timeout_s=90), log.read_text()
        finally:
            stop(worker)

        summary = summarize(w.store, run.id)
        assert summary.statuses == {"reviewed": 4}
        assert set(summary.decisions) <= {"approve", "request_info"}  # the champion's
        with w.store.session() as session:
            found = list(session.scalars(select(ShadowReviewRow)))
        assert {s.merchant_id for s in found} == {m.record.merchant_id for m in w.merchants}
        assert {s.batch_run_id for s in found} == {run.id}
