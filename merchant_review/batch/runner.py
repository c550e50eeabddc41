"""The local batch runner: one process, reviews at bounded concurrency, resumable.

`concurrency` coroutines each claim the run's next item, process it (process.py) and
claim again until nothing is left. A heartbeat renews the leases of the items this
process holds. A clean stop (Ctrl-C, an error) hands its claimed items back; after a
crash (kill -9, power loss) they are taken over by the next claimer once the claimer is
known to be gone (same machine) or its lease has run out (identity.py, runs.py). Several
runners (and Celery workers) may work on one run at once: claims keep them apart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from merchant_review.batch import runs
from merchant_review.batch.identity import claimer_id
from merchant_review.batch.process import ItemProcessor
from merchant_review.batch.runs import Outcome

ResultHook = Callable[[Outcome], None]


async def _heartbeat(processor: ItemProcessor, claimer: str) -> None:
    lease = processor.settings.batch.lease_s
    while True:
        await asyncio.sleep(lease / 3)
        runs.renew(processor.store, processor.run.id, claimer, lease)


async def _worker(processor: ItemProcessor, claimer: str, on_result: ResultHook | None) -> None:
    store, run_id, lease = processor.store, processor.run.id, processor.settings.batch.lease_s
    while (claim := runs.claim_next(store, run_id, claimer, lease)) is not None:
        outcome = await processor.process(claim)
        if on_result is not None:
            on_result(outcome)


async def run_local(
    processor: ItemProcessor, concurrency: int, on_result: ResultHook | None = None
) -> bool:
    """Work on the processor's run until no item is left to claim; whether the run ended."""
    claimer = claimer_id()
    store, run_id = processor.store, processor.run.id
    async with processor:
        heartbeat = asyncio.create_task(_heartbeat(processor, claimer))
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(concurrency):
                    group.create_task(_worker(processor, claimer, on_result))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            runs.release(store, run_id, claimer)
    return runs.mark_finished(store, run_id)
