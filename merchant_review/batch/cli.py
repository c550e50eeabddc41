"""The `batch` and `worker` commands of the `merchant-review` CLI, added by `register(app)`.

    merchant-review batch (--all | --ids FILE | --where EXPR | --changed-policy-since VERSION
                           | --stale-days N) [--concurrency N] [--rate 10/s] [--engine E]
                           [--queue redis://...] [--force] [--shadow CONFIG --share 0.2]
                           [--json]
    merchant-review batch resume RUN_ID [--concurrency N] [--rate R] [--queue URL] [--retry-failed]
    merchant-review batch status RUN_ID [--json]
    merchant-review batch changes RUN_ID [--json]
    merchant-review worker [--queue redis://...] [--pool solo|threads|prefork] [--concurrency N]

Exit codes: 0 the run ended; 1 it stopped with items left (resume it); 2 bad input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from merchant_review.batch import changes as run_changes
from merchant_review.batch import runs, service
from merchant_review.batch.filters import FilterError
from merchant_review.batch.process import VersionMismatch
from merchant_review.batch.progress import RunProgress, print_summary
from merchant_review.batch.ratelimit import RateError, parse_rate
from merchant_review.batch.schema import BatchRunRow
from merchant_review.batch.selection import Selection, SelectionError
from merchant_review.experiments import shadow as experiments
from merchant_review.settings import EngineChoice, Settings
from merchant_review.storage import Store
from merchant_review.storage.errors import safe_url

console = Console()
err_console = Console(stderr=True)
batch_app = typer.Typer(
    help="Re-review many merchants: local or distributed, resumable, incremental, targeted."
)

Concurrency = Annotated[int | None, typer.Option(min=1, max=1000, help="reviews at once")]
Rate = Annotated[str | None, typer.Option(help="model calls per period: 10/s, 600/min")]
Queue = Annotated[str | None, typer.Option(help="redis://HOST:PORT/DB: distribute over workers")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]


@contextmanager
def _errors() -> Iterator[None]:
    """The CLI's handling of expected failures, with the batch's errors added."""
    from merchant_review.cli import UsageFailure, user_errors  # cli.py registers this module

    with user_errors():
        try:
            yield
        except (FilterError, SelectionError, RateError, VersionMismatch, ValueError) as exc:
            raise UsageFailure(str(exc)) from exc


def _settings(ctx: typer.Context, **batch: Any) -> Settings:
    """The global settings with this command's batch options (and engine) applied."""
    settings = ctx.find_root().obj
    assert isinstance(settings, Settings)
    engine = batch.pop("engine", None)
    given = {k: v for k, v in batch.items() if v is not None}
    if given.get("rate"):
        parse_rate(given["rate"])
    updated = settings.batch.model_copy(update=given)
    changes: dict[str, Any] = {"batch": updated}
    if engine is not None:
        changes["engine"] = engine
    return settings.model_copy(update=changes)


def _execute(
    settings: Settings, store: Store, run: BatchRunRow, engine: service.Engine | None
) -> bool:
    """Run to the end here or on the queue, with a progress bar; whether it ended."""
    where = (
        f"queue {safe_url(settings.batch.queue_url)}"
        if settings.batch.queue_url
        else "this machine"
    )
    err_console.print(f"batch run {run.id}: {run.total} merchants, engine {run.engine}, on {where}")
    with RunProgress(err_console, run.id, run.total) as progress:
        try:
            if settings.batch.queue_url:
                return service.run_distributed(settings, store, run, progress.update)
            assert engine is not None
            return service.run_here(settings, store, run, engine, show=progress.update)
        except KeyboardInterrupt:
            err_console.print(f"stopped: resume with `merchant-review batch resume {run.id}`")
            return False


def _finish(store: Store, run: BatchRunRow, ended: bool, as_json: bool) -> None:
    summary = run_changes.summarize(store, run.id)
    if as_json:
        sys.stdout.write(json.dumps({**summary.record(), "ended": ended}, indent=2) + "\n")
    else:
        print_summary(summary, console)
    if not ended:
        err_console.print(f"items left: resume with `merchant-review batch resume {run.id}`")
        raise typer.Exit(1)


@batch_app.callback(invoke_without_command=True)
def batch(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="every merchant")] = False,
    ids: Annotated[Path | None, typer.Option(help="a file of merchant ids, one a line")] = None,
    where: Annotated[
        str | None, typer.Option(help="e.g. \"country = 'US' and mcc in ('5993')\"")
    ] = None,
    changed_policy_since: Annotated[
        str | None, typer.Option(help="corpus version: merchants touched by rules changed since")
    ] = None,
    stale_days: Annotated[float | None, typer.Option(min=0, help="not reviewed for N days")] = None,
    concurrency: Concurrency = None,
    rate: Rate = None,
    engine: Annotated[
        EngineChoice | None, typer.Option(help="offline, llm, cascade or auto")
    ] = None,
    queue: Queue = None,
    force: Annotated[bool, typer.Option(help="review even merchants that did not change")] = False,
    shadow: Annotated[
        str | None, typer.Option(help="challenger configuration to run in shadow mode")
    ] = None,
    share: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="share of merchants it shadows")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Start a batch run over the selected merchants and review them."""
    if ctx.invoked_subcommand is not None:
        return
    selection = Selection(
        all=all_,
        ids_file=str(ids) if ids else None,
        where=where,
        changed_policy_since=changed_policy_since,
        stale_days=stale_days,
    )
    with _errors():
        selection.check()
        settings = _settings(
            ctx, concurrency=concurrency, rate=rate, queue_url=queue, engine=engine
        )
        store = Store(settings.database_url)
        # The champion configuration reviews (if there is one); a challenger may shadow it.
        extra = experiments.run_options(store, settings, shadow, share)
        settings = experiments.champion_settings(settings, extra)
        engine_ = service.Engine.from_settings(settings)
        run = service.create(settings, store, selection, engine_, force=force)
        if extra:
            experiments.attach(store, run.id, extra)
            run = runs.get_run(store, run.id)
        ended = (
            runs.mark_finished(store, run.id)
            if run.total == 0
            else _execute(settings, store, run, engine_)
        )
        _finish(store, run, ended, as_json)


@batch_app.command()
def resume(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="a batch run id (or a unique prefix)")],
    concurrency: Concurrency = None,
    rate: Rate = None,
    queue: Queue = None,
    retry_failed: Annotated[bool, typer.Option(help="also retry the failed items")] = False,
    as_json: AsJson = False,
) -> None:
    """Continue a stopped run where it was: no merchant lost, none reviewed twice."""
    with _errors():
        root = ctx.find_root().obj
        assert isinstance(root, Settings)
        store = Store(root.database_url)
        run = runs.get_run(store, run_id)
        options = run.options
        settings = _settings(
            ctx,
            concurrency=concurrency or options.get("concurrency"),
            rate=rate or options.get("rate"),
            queue_url=queue,
        )
        settings = experiments.champion_settings(settings, options)
        if retry_failed:
            runs.retry_failed(store, run.id)
        engine_ = None if settings.batch.queue_url else service.Engine.from_settings(settings)
        ended = _execute(settings, store, run, engine_)
        _finish(store, run, ended, as_json)


@batch_app.command()
def status(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="a batch run id (or a unique prefix)")],
    as_json: AsJson = False,
) -> None:
    """Show a run's progress."""
    with _errors():
        store = Store(_settings(ctx).database_url)
        run = runs.get_run(store, run_id)
        summary = run_changes.summarize(store, run.id)
    record = {
        "run_id": run.id,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "engine": run.engine,
        "corpus_version": run.corpus_version,
        "selection": run.selection,
        "options": run.options,
        **summary.record(),
    }
    if as_json:
        sys.stdout.write(json.dumps(record, indent=2) + "\n")
        return
    state = "finished" if run.finished_at else "unfinished"
    console.print(f"batch run {run.id} ({state}), started {run.created_at:%Y-%m-%d %H:%M:%S} UTC")
    console.print(
        f"selection {json.dumps(run.selection)}; engine {run.engine}; {run.corpus_version}"
    )
    print_summary(summary, console)


@batch_app.command("changes")
def changes_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="a batch run id (or a unique prefix)")],
    as_json: AsJson = False,
) -> None:
    """List merchants whose decision changed since their previous review."""
    with _errors():
        store = Store(_settings(ctx).database_url)
        run = runs.get_run(store, run_id)
        changed = run_changes.changes(store, run.id)
    if as_json:
        sys.stdout.write(json.dumps([c.record() for c in changed], indent=2) + "\n")
        return
    table = Table(title=f"changed decisions in batch run {run.id}")
    for column in ("merchant", "was", "now", "previous review", "new review"):
        table.add_column(column)
    for change in changed:
        table.add_row(
            change.merchant_id,
            _decision(change.old),
            _decision(change.new),
            str(change.old.get("review_id") or ""),
            str(change.new.get("review_id") or ""),
        )
    console.print(table if changed else "no decision changed")


def _decision(verdict: dict[str, Any]) -> str:
    categories = ", ".join(verdict.get("categories") or [])
    return f"{verdict.get('decision', '?')}" + (f" ({categories})" if categories else "")


def worker(
    ctx: typer.Context,
    queue: Queue = None,
    pool: Annotated[str, typer.Option(help="solo, threads or prefork")] = "threads",
    concurrency: Annotated[int, typer.Option(min=1, help="tasks at once in this worker")] = 8,
    rate: Rate = None,
    loglevel: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
) -> None:
    """Run a batch worker: reviews the merchants of distributed batch runs from the queue."""
    from merchant_review.batch.distributed import run_worker

    with _errors():
        settings = _settings(ctx, queue_url=queue, rate=rate)
        if not settings.batch.queue_url:
            raise ValueError("no queue: give --queue redis://HOST:PORT/DB")
        if pool not in ("solo", "threads", "prefork"):
            raise ValueError(f"unknown pool {pool!r}: solo, threads or prefork")
        Store(settings.database_url).close()  # fail now on an unusable database
        run_worker(settings, pool, concurrency, loglevel)


def register(app: typer.Typer) -> None:
    """Add `batch` and `worker` to the merchant-review app."""
    app.add_typer(batch_app, name="batch")
    app.command()(worker)
