"""Starting, resuming and running batch runs: what the `batch` commands do, minus printing."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from merchant_review.batch import corpus as snapshots
from merchant_review.batch import runs
from merchant_review.batch.incremental import current_versions
from merchant_review.batch.process import ItemProcessor
from merchant_review.batch.ratelimit import batch_assessor, limiter
from merchant_review.batch.runner import ResultHook, run_local
from merchant_review.batch.schema import BatchRunRow
from merchant_review.batch.selection import Selection, policy_target, select_merchants
from merchant_review.policy import PolicyCorpus, load_corpus
from merchant_review.settings import EngineChoice, Settings
from merchant_review.storage import Store

Show = Callable[[dict[str, int]], None]

if TYPE_CHECKING:
    from agent.assessor import Assessor


@dataclass
class Engine:
    """What reviews a run's items in this process: the assessor and the corpus."""

    assessor: Assessor
    corpus: PolicyCorpus

    @classmethod
    def from_settings(cls, settings: Settings) -> Engine:
        """The settings' assessor (model calls rate-limited by settings.batch.rate)."""
        warm_process(settings)
        return cls(
            batch_assessor(settings, limiter(settings.batch.rate)), load_corpus(settings.policy_dir)
        )


def warm_process(settings: Settings) -> None:
    """Load now what every review of the settings' engine loads on first use (the local
    runner's engine and a Celery worker both start with this)."""
    if settings.resolved_engine() is not EngineChoice.OFFLINE:
        warm_model_reviews(settings)
    warm_reviews(settings.policy_dir)


def warm_reviews(policy_dir: Path | None = None) -> None:
    """Import now what the first review would import (the review graph with LangGraph, the
    crawler) and index the corpus's indicators (agent/offline/indicators.py; every engine
    matches them; each one's regular expression is compiled when a review first needs
    it): about a second of CPU per process, the indexing 0.1-0.2 s of it, paid with the
    engine's loading rather than as the run's first work."""
    import agent.graph  # noqa: F401
    import tools.crawler  # noqa: F401
    from agent.offline.indicators import compiled

    compiled(load_corpus(policy_dir))


def warm_model_reviews(settings: Settings) -> None:
    """Load now what a model review loads on first use, not inside the first reviews.

    The evidence floor's offline engine takes seconds to load; loaded in the first review,
    it stalls the event loop, and every review in flight with it, for that long.
    """
    from agent.evidence_floor import preload

    preload(settings)


def create(
    settings: Settings, store: Store, selection: Selection, engine: Engine, *, force: bool
) -> BatchRunRow:
    """Record a run over the selected merchants (and the corpus version it uses)."""
    selection.check()
    snapshots.remember(store, engine.corpus)
    target = None
    if selection.changed_policy_since:
        target = policy_target(store, selection.changed_policy_since, engine.corpus)
    versions = current_versions(
        settings,
        engine.assessor.engine,
        getattr(engine.assessor, "prompt_version", None),
        engine.corpus.version,
    )
    options: dict[str, Any] = {
        "concurrency": settings.batch.concurrency,
        "rate": settings.batch.rate,
        "force": force,
        "queue": settings.batch.queue_name if settings.batch.queue_url else None,
    }
    run_id = runs.create_run(
        store,
        select_merchants(store, selection, target),
        versions=versions.record(),
        selection=selection.record(),
        options=options,
    )
    return runs.get_run(store, run_id)


async def _show_while(
    done: asyncio.Task[bool], store: Store, run_id: str, show: Show, every: float
) -> None:
    while not done.done():
        show(runs.counts(store, run_id))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(done), every)
    show(runs.counts(store, run_id))


async def _local(
    processor: ItemProcessor, concurrency: int, show: Show | None, on_result: ResultHook | None
) -> bool:
    work = asyncio.create_task(run_local(processor, concurrency, on_result))
    if show is not None:
        every = processor.settings.batch.poll_s
        await _show_while(work, processor.store, processor.run.id, show, every)
    return await work


def run_here(
    settings: Settings,
    store: Store,
    run: BatchRunRow,
    engine: Engine,
    *,
    show: Show | None = None,
    on_result: ResultHook | None = None,
) -> bool:
    """Review the run's items in this process until none is left; whether the run ended."""
    force = bool(run.options.get("force", False))
    processor = ItemProcessor(
        settings, store, run, assessor=engine.assessor, corpus=engine.corpus, force=force
    )
    with _frozen_heap():
        return asyncio.run(_local(processor, settings.batch.concurrency, show, on_result))


def freeze_loaded_heap() -> None:
    """Keep what is loaded by now out of the cyclic GC's full collections.

    The engine's models, the corpus and the imported modules are some 270,000 tracked
    objects that live as long as the process; every full collection traversed them all
    (about 0.15 s each: 6-8 % of an offline batch's CPU). gc.freeze moves them to the
    permanent generation; objects made afterwards are collected as before. A process
    forked afterwards (a prefork worker's children) inherits the frozen generation.
    """
    gc.freeze()


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """The heap frozen while a local run lasts; unfreezing afterwards hands the frozen
    objects back to the collector (the process may go on to other work). A heap frozen
    already (a worker's, prepare_worker_process) is left as its owner froze it."""
    if gc.get_freeze_count():
        yield
        return
    freeze_loaded_heap()
    try:
        yield
    finally:
        gc.unfreeze()


def run_distributed(
    settings: Settings, store: Store, run: BatchRunRow, show: Show | None = None
) -> bool:
    """Enqueue the run's unfinished items on the queue and watch them to the end."""
    from merchant_review.batch.distributed import enqueue, make_app, watch

    app = make_app(settings)
    enqueue(app, run.id, runs.unfinished(store, run.id))
    return watch(app, store, settings, run.id, show)
