"""Distributed batch runs: real Celery workers on Redis, writing to one PostgreSQL audit log.

Two workers; the first kills itself (os._exit) mid-review of its second item, after
claiming it. The run still ends with every merchant reviewed exactly once: the watcher
sees the claimer is gone and re-enqueues its item, the surviving worker closes the
abandoned review and reviews the merchant again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from merchant_review.batch import runs, service
from merchant_review.batch.changes import summarize
from merchant_review.batch.distributed import enqueue, make_app, watch
from merchant_review.batch.process import FAULT_EXIT_CODE
from merchant_review.batch.selection import Selection
from tests.batchsupport import offline, run_reviews, world
from tests.dbtools import DATABASE_URL, NO_POSTGRES, postgres_schema

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not DATABASE_URL, reason=NO_POSTGRES),
    pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set: distributed runs skipped"),
]
WORKER = [sys.executable, "-c", "from merchant_review.cli import main; main()", "worker"]


@contextmanager
def queue_keys(queue_name: str) -> Iterator[None]:
    """Delete every Redis key of the test's queue afterwards (they share its prefix)."""
    try:
        yield
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{queue_name}:*"):
            client.delete(key)
        client.close()


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [*WORKER, "--pool", "solo", "--loglevel", "WARNING"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.terminate()  # warm shutdown
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_two_workers_one_killed_mid_review_review_every_merchant_exactly_once(
    tmp_path: Path,
) -> None:
    queue = f"mr-test-{uuid.uuid4().hex[:10]}"
    batch = {"queue_url": REDIS_URL, "queue_name": queue, "poll_s": 0.2}
    with postgres_schema() as url, world(url, tmp_path, 8, batch=batch) as w, queue_keys(queue):
        run = service.create(
            w.settings, w.store, Selection(all=True), offline(w.settings), force=False
        )
        app = make_app(w.settings)
        assert enqueue(app, run.id, runs.unfinished(w.store, run.id)) == 8
        env = w.env(
            MERCHANT_REVIEW_BATCH__QUEUE_URL=REDIS_URL, MERCHANT_REVIEW_BATCH__QUEUE_NAME=queue
        )
        log = tmp_path / "workers.log"
        doomed = start_worker({**env, "MERCHANT_REVIEW_BATCH__FAULT_EXIT_AFTER_CLAIMS": "2"}, log)
        survivor = None
        try:
            assert doomed.wait(timeout=90) == FAULT_EXIT_CODE, log.read_text()
            before = runs.counts(w.store, run.id)
            assert before["claimed"] == 1 and before["reviewed"] == 1, before
            survivor = start_worker(env, log)
            assert watch(app, w.store, w.settings, run.id, timeout_s=90), log.read_text()
            assert survivor.poll() is None  # it is still serving the queue
        finally:
            stop(doomed)
            if survivor is not None:
                stop(survivor)

        assert summarize(w.store, run.id).statuses == {"reviewed": 8}
        found = run_reviews(w.store, run.id)
        assert found["real"] == {m.record.merchant_id: 1 for m in w.merchants}
        assert sum(found["abandoned"].values()) == 1 and not found["open"]
        assert doomed.returncode == FAULT_EXIT_CODE and survivor.returncode is not None
