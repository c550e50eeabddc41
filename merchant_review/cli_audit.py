"""Audit-log commands of the `merchant-review` CLI, added to the app by `register(app)`.

    merchant-review db upgrade | db status
    merchant-review audit verify [--since DATE]
    merchant-review replay REVIEW_ID [--json]
    merchant-review override REVIEW_ID --decision D --reason TEXT --analyst NAME [--categories a,b]
    merchant-review export-labels --out DIR

Exit codes: 0 success; 1 the check failed (audit log broken, replay not reproduced, schema
not current); 2 bad input or an unusable database (one `error:` line, nothing written).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from merchant_review.labels import LabelExportError, export_labels
from merchant_review.replay import ReplayError, ReplayResult, replay_review
from merchant_review.settings import Settings
from merchant_review.storage import Store
from merchant_review.storage.engine import make_engine
from merchant_review.storage.errors import safe_url
from merchant_review.storage.migrate import current_state, head_revision, schema_problem, upgrade
from merchant_review.taxonomy import Category, Decision

console = Console(soft_wrap=True)  # one line per message: easy to grep and to script
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.find_root().obj
    assert isinstance(settings, Settings)
    return settings


@contextmanager
def _errors() -> Iterator[None]:
    """The CLI's handling of expected failures, with this module's errors added."""
    from merchant_review.cli import UsageFailure, user_errors  # cli.py registers this module

    with user_errors():
        try:
            yield
        except (ReplayError, LabelExportError) as exc:
            raise UsageFailure(str(exc)) from exc


# -- db ------------------------------------------------------------------------------------

db_app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create the schema in an empty database, or upgrade it to this version's revision."""
    with _errors():
        engine = make_engine(_settings(ctx).database_url)
        try:
            before, after = upgrade(engine)
        finally:
            engine.dispose()
    where = safe_url(engine.url)
    if before == after:
        console.print(f"database {where} is up to date (revision {after})")
    else:
        console.print(f"database {where}: schema {before or 'none'} -> {after}")


@db_app.command("status")
def db_status(ctx: typer.Context) -> None:
    """Show the schema revision and whether this version can use the database."""
    with _errors():
        engine = make_engine(_settings(ctx).database_url)
        try:
            state = current_state(engine)
        finally:
            engine.dispose()
    where = safe_url(engine.url)
    revision = state.revision or "none"
    console.print(f"database {where}: revision {revision} (this version: {head_revision()})")
    if problem := schema_problem(state, where):
        console.print(problem)
        raise typer.Exit(1)
    console.print("ok")


# -- audit verify --------------------------------------------------------------------------

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    since: Annotated[
        datetime | None,
        typer.Option(formats=DATE_FORMATS, help="only what was written from then on (UTC)"),
    ] = None,
) -> None:
    """Recompute the hash chains; report the first broken link of each chain (exit 1)."""
    from merchant_review.audit_verify import verify_audit_log
    from merchant_review.experiments.log import verify as verify_experiment_log

    with _errors():
        store = Store(_settings(ctx).database_url)
        report = verify_audit_log(store, since=since)
        experiments = verify_experiment_log(store)  # configurations' history (promotions)
    counts = (
        f"{report.reviews} reviews, {report.records} records, {report.blobs} page blobs, "
        f"{report.ledger_entries} ledger entries"
    )
    if report.ok:
        console.print(f"[green]audit log intact[/green]: {counts}")
    else:
        console.print(f"[bold red]audit log BROKEN[/bold red]: {counts}")
        for problem in report.problems:
            console.print(f"  {problem}", markup=False)
    console.print(f"ledger head: #{report.head[0]} {report.head[1]} (publish it to anchor the log)")
    if experiments.ok:
        console.print(f"[green]experiment log intact[/green]: {experiments.entries} entries")
    else:
        console.print(f"[bold red]experiment log BROKEN[/bold red]: {experiments.problem}")
    if not (report.ok and experiments.ok):
        raise typer.Exit(1)


# -- replay, override, export-labels --------------------------------------------------------


def replay(
    ctx: typer.Context,
    review_id: Annotated[str, typer.Argument(help="a review id (or a unique prefix)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Re-run a stored review on its stored evidence (no network); exit 1 if it differs."""
    with _errors():
        settings = _settings(ctx)
        result = asyncio.run(replay_review(Store(settings.database_url), review_id, settings))
    if as_json:
        sys.stdout.write(json.dumps(_replay_json(result), indent=2) + "\n")
    else:
        _print_replay(result)
    if not result.reproduced:
        raise typer.Exit(1)


def _replay_json(result: ReplayResult) -> dict[str, object]:
    return {
        "original_id": result.original_id,
        "replay_id": result.replay_id,
        "reproduced": result.reproduced,
        "decision": result.replayed.decision.value,
        "differences": result.differences,
        "warnings": result.warnings,
    }


def _print_replay(result: ReplayResult) -> None:
    verdict = result.replayed
    categories = ", ".join(c.value for c in verdict.categories) or "none"
    head = f"replay {result.replay_id} of {result.original_id}"
    if result.reproduced:
        console.print(f"{head}: [green]reproduced[/green] ({verdict.decision.value}; {categories})")
    else:
        console.print(f"{head}: [bold red]differs[/bold red]")
        for difference in result.differences:
            console.print(f"  {difference}", markup=False)
    for warning in result.warnings:
        console.print(f"  [yellow]warning:[/yellow] {warning}")


def _categories(text: str | None) -> list[Category] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    try:
        return [Category(name) for name in names]
    except ValueError as exc:
        known = ", ".join(c.value for c in Category)
        raise typer.BadParameter(f"{exc}; categories are: {known}") from exc


def override(
    ctx: typer.Context,
    review_id: Annotated[str, typer.Argument(help="a review id (or a unique prefix)")],
    decision: Annotated[Decision, typer.Option(help="the analyst's decision")],
    reason: Annotated[str, typer.Option(help="why (kept in the audit log)")],
    analyst: Annotated[str, typer.Option(help="who decides")],
    categories: Annotated[
        str | None,
        typer.Option(help='comma-separated categories replacing the verdict\'s ("" for none)'),
    ] = None,
) -> None:
    """Record an analyst's decision on a review (the verdict itself is never changed)."""
    chosen = _categories(categories)
    with _errors():
        store = Store(_settings(ctx).database_url)
        row = store.add_override(
            review_id, decision=decision, reason=reason, analyst=analyst, categories=chosen
        )
        final = store.get_review(row.review_id)
    standing = final.final_decision() if final else None
    shown = ", ".join(c.value for c in standing.categories) if standing else ""
    console.print(
        f"override recorded on review {row.review_id}: {decision.value} "
        f"({shown or 'no categories'}) by {row.analyst}"
    )


def export_labels_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="a new (or empty) folder for the dataset")],
) -> None:
    """Write overridden and confirmed reviews as a labelled eval dataset (cases.jsonl, sites/)."""
    with _errors():
        summary = export_labels(Store(_settings(ctx).database_url), out)
    console.print(
        f"wrote {summary.cases} cases ({summary.confirmed} confirmed, {summary.corrected} "
        f"corrected, {summary.pages} pages) to {summary.out}"
    )


def register(app: typer.Typer) -> None:
    """Add the audit-log commands to the `merchant-review` app."""
    app.add_typer(db_app, name="db")
    app.add_typer(audit_app, name="audit")
    app.command("replay")(replay)
    app.command("override")(override)
    app.command("export-labels")(export_labels_command)
