"""Reviews started from the web app or the API, run in the background of the server process.

Each review runs in a worker thread with its own event loop (the review graph does
blocking database writes and CPU-bound scoring: the server's loop keeps answering). At most
`max_concurrent_reviews` run at once; more wait their turn. Job states live in memory: the
review itself, once started, is in the audit log whatever happens to the server.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from merchant_review.experiments import single
from merchant_review.review import ReviewInputError
from merchant_review.settings import Settings
from merchant_review.storage import Store
from merchant_review.verdict import Verdict

KEEP_JOBS = 1000  # finished jobs remembered (oldest forgotten first)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    """A background review: who asked for it, how it goes, and its review once done."""

    id: str
    merchant_id: str
    requested_by: str
    trigger: str
    status: JobStatus
    created_at: datetime
    review_id: str | None = None
    decision: str | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)


class ReviewJobs:
    """Starts reviews in worker threads and tracks them."""

    def __init__(self, settings: Settings, store: Store, max_concurrent: int) -> None:
        self.settings = settings
        self.store = store
        self._pool = ThreadPoolExecutor(max_concurrent, thread_name_prefix="review")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def start(self, merchant_id: str, requested_by: str, trigger: str) -> Job:
        """Queue a review of a merchant in the records DB (ReviewInputError if unknown)."""
        if self.store.get_merchant(merchant_id) is None:
            raise ReviewInputError(f"unknown merchant {merchant_id!r}: not in the records database")
        job = Job(
            id=uuid.uuid4().hex,
            merchant_id=merchant_id,
            requested_by=requested_by,
            trigger=trigger,
            status=JobStatus.QUEUED,
            created_at=datetime.now(UTC),
        )
        self._put(job)
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def wait(self, job_id: str, timeout: float) -> Job | None:
        """The job once finished, or as it is after `timeout` seconds (None: unknown)."""

        def settled() -> bool:
            job = self._jobs.get(job_id)
            return job is None or job.finished

        with self._changed:
            self._changed.wait_for(settled, timeout)
            return self._jobs.get(job_id)

    def shutdown(self) -> None:
        """Stop taking jobs; queued ones are dropped, running ones finish in their thread."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _put(self, job: Job) -> None:
        with self._changed:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_JOBS:
                self._jobs.popitem(last=False)
            self._changed.notify_all()

    def _run(self, job: Job) -> None:
        self._put(replace(job, status=JobStatus.RUNNING))
        try:
            verdict = asyncio.run(self._review(job))
        except Exception as exc:  # the job reports any failure; the server goes on
            self._put(replace(job, status=JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}"))
            return
        self._put(
            replace(
                job,
                status=JobStatus.DONE,
                review_id=verdict.review_id,
                decision=verdict.decision.value,
            )
        )

    async def _review(self, job: Job) -> Verdict:
        # As the champion, shadowed when the settings ask (experiments/single.py).
        return await single.review_merchant(
            self.settings, self.store, job.merchant_id, trigger=job.trigger
        )
