"""Distributed batch runs: one Celery task per merchant, Redis as the broker.

`merchant-review batch --queue redis://...` records the run, enqueues a task per item and
watches the database until every item is finished; `merchant-review worker` (on any
number of machines, all writing to the same PostgreSQL audit log) runs the tasks.

A task is idempotent: it names (run id, merchant id) and does its work only after
claiming that item (runs.claim_item); a task for a finished item does nothing, one for an
item another live worker holds retries once that claim could have lapsed. Tasks are
acknowledged late and rejected when their worker is lost, so Redis redelivers the task of
a worker killed mid-review (after the visibility timeout); the watcher does not wait for
that: it re-enqueues items whose claimer is known to be gone or whose lease ran out. The
next claimer settles what the dead one left (orphans.py): nothing lost, nothing twice.

In a worker process, reviews run on one asyncio loop in a background thread, shared by
the pool's threads (`--pool threads --concurrency N` runs N reviews at once in a process).
A worker loads what reviews need and freezes its heap once, before its pool starts
(`prepare_worker_process`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiolimiter import AsyncLimiter
from celery import Celery, Task, signals
from celery.exceptions import Retry

from merchant_review.batch import runs
from merchant_review.batch.identity import claimer_id
from merchant_review.batch.process import ItemProcessor, VersionMismatch
from merchant_review.batch.ratelimit import batch_assessor, limiter
from merchant_review.batch.schema import PENDING
from merchant_review.batch.service import freeze_loaded_heap, warm_process
from merchant_review.experiments.shadow import champion_settings
from merchant_review.settings import Settings, load_settings
from merchant_review.storage import StorageError, Store

log = logging.getLogger(__name__)
TASK = "merchant_review.batch.review_item"
RETRY_BACKOFF_MAX_S = 600


def make_app(settings: Settings) -> Celery:
    """The Celery app for the settings' queue (broker only: results live in the database)."""
    batch = settings.batch
    if not batch.queue_url:
        raise ValueError("no queue: give --queue redis://HOST:PORT/DB")
    app = Celery("merchant_review", broker=batch.queue_url, set_as_current=False)
    app.conf.update(
        task_default_queue=batch.queue_name,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": batch.visibility_timeout_s,
            "global_keyprefix": f"{batch.queue_name}:",
        },
    )
    app.task(
        name=TASK,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        autoretry_for=(StorageError,),
        retry_backoff=True,
        retry_backoff_max=RETRY_BACKOFF_MAX_S,
        retry_jitter=True,
        max_retries=batch.task_max_retries,
    )(review_item)
    return app


# -- the worker side -----------------------------------------------------------------------


class _WorkerState:
    """One process's store, event loop thread and item processors (one per run)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.database_url)
        self.claimer = claimer_id()
        self.loop = asyncio.new_event_loop()
        self.bucket: AsyncLimiter | None = None
        self._processors: dict[str, ItemProcessor] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self.loop.run_forever, name="batch-loop", daemon=True).start()
        self.call(self._heartbeat_start())

    def call(self, coroutine: Any) -> Any:
        """Run a coroutine on the process's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def _heartbeat_start(self) -> None:
        self.bucket = limiter(self.settings.batch.rate)
        self.loop.create_task(self._heartbeat())

    async def _heartbeat(self) -> None:
        lease = self.settings.batch.lease_s
        while True:
            await asyncio.sleep(lease / 3)
            for run_id in list(self._processors):
                await asyncio.to_thread(runs.renew, self.store, run_id, self.claimer, lease)

    def processor(self, run_id: str) -> ItemProcessor:
        with self._lock:
            if run_id not in self._processors:
                run = runs.get_run(self.store, run_id)
                settings = champion_settings(self.settings, run.options)  # a shadowed run
                assessor = batch_assessor(settings, self.bucket)
                processor = ItemProcessor(
                    settings,
                    self.store,
                    run,
                    assessor=assessor,
                    force=run.options.get("force", False),
                )
                self.call(processor.__aenter__())
                self._processors[run_id] = processor
            return self._processors[run_id]


_state: _WorkerState | None = None
_state_lock = threading.Lock()
_worker_settings: Settings | None = None  # set by run_worker; else read from the environment


def _worker_state() -> _WorkerState:
    global _state
    with _state_lock:
        if _state is None:
            _state = _WorkerState(_worker_settings or load_settings())
        return _state


def review_item(task: Task[Any, Any], run_id: str, merchant_id: str) -> str:
    """Claim the item, review it (or carry it forward), finish it; how it ended."""
    state = _worker_state()
    lease = state.settings.batch.lease_s
    try:
        processor = state.processor(run_id)
    except VersionMismatch as exc:  # another worker may be configured for this run
        log.error("%s", exc)
        raise task.retry(countdown=lease) from exc
    claim = runs.claim_item(state.store, run_id, merchant_id, state.claimer, lease)
    if isinstance(claim, runs.Refusal):
        if claim.wait_s > 0:  # held by another worker: look again once it could have lapsed
            raise task.retry(countdown=claim.wait_s + 1)
        return claim.reason
    outcome = state.call(processor.process(claim))
    if outcome.status == PENDING:  # the attempt raised and was handed back: retry later
        raise task.retry(countdown=min(2**claim.attempts, RETRY_BACKOFF_MAX_S))
    return str(outcome.status)


# -- the coordinator side ------------------------------------------------------------------


def enqueue(app: Celery, run_id: str, merchant_ids: Iterable[str]) -> int:
    """One task per merchant of the run; how many were sent."""
    sent = 0
    with app.producer_or_acquire() as producer:
        for merchant_id in merchant_ids:
            app.send_task(TASK, args=[run_id, merchant_id], producer=producer)
            sent += 1
    return sent


def watch(
    app: Celery,
    store: Store,
    settings: Settings,
    run_id: str,
    show: Callable[[dict[str, int]], None] | None = None,
    *,
    timeout_s: float | None = None,
) -> bool:
    """Wait until the run has no unfinished item, re-enqueueing abandoned ones; True at the end.

    An item whose claimer is gone (or whose lease ran out) gets a new task at once, and
    again at most once per lease while it stays abandoned. TimeoutError after `timeout_s`.
    """
    requeued: dict[str, float] = {}
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"batch run {run_id} did not finish within {timeout_s} s")
        statuses = runs.counts(store, run_id)
        if show is not None:
            show(statuses)
        if not statuses.get(PENDING) and not statuses.get("claimed"):
            return runs.mark_finished(store, run_id)
        at = time.monotonic()
        stale = [
            m
            for m in runs.stale_claims(store, run_id)
            if at - requeued.get(m, -1e9) > settings.batch.lease_s
        ]
        if stale:
            log.info("re-enqueueing %d abandoned item(s) of run %s", len(stale), run_id)
            enqueue(app, run_id, stale)
            requeued.update(dict.fromkeys(stale, at))
        time.sleep(settings.batch.poll_s)


def prepare_worker_process(settings: Settings) -> None:
    """Load what every review needs, as a local run does (service.warm_process), then
    freeze the heap (service.freeze_loaded_heap) for the worker's life.

    Run on `worker_init`: in the worker's main process, for every pool, before the pool
    starts. Solo and thread pools review in this process; prefork children are forked
    from it afterwards and inherit both the loaded modules and the frozen generation.
    Without it, a worker's first review loaded all this (1.2-1.5 s), and every full
    collection of the cyclic GC traversed it again (about 0.18 s each).
    """
    warm_process(settings)
    freeze_loaded_heap()


def _on_worker_init(**_: Any) -> None:
    prepare_worker_process(_worker_settings or load_settings())


def worker_app(settings: Settings) -> Celery:
    """The app a worker of these settings runs, the worker's preparation connected."""
    global _worker_settings
    _worker_settings = settings
    signals.worker_init.connect(_on_worker_init, dispatch_uid=f"{TASK}.prepare")
    return make_app(settings)


def run_worker(settings: Settings, pool: str, concurrency: int, loglevel: str = "INFO") -> None:
    """Run a Celery worker on the settings' queue (blocks until it is stopped)."""
    app = worker_app(settings)
    app.worker_main(
        [
            "worker",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            f"--queues={settings.batch.queue_name}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


__all__ = [
    "TASK",
    "Retry",
    "enqueue",
    "make_app",
    "prepare_worker_process",
    "review_item",
    "run_worker",
    "watch",
    "worker_app",
]
