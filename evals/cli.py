"""`merchant-review eval`: run a labelled dataset, write the contract report, compare two."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from evals.compare import compare_reports, print_comparison
from evals.dataset import Dataset, DatasetError, EvalCase, load_dataset
from evals.html import write_html
from evals.report import build_report, load_report, write_report
from evals.runner import EvalRunner
from evals.summary import print_summary
from merchant_review.settings import EngineChoice, Settings
from merchant_review.storage import Store

eval_app = typer.Typer(help="Evaluate on labelled datasets (eval-dataset-format.md).")
console = Console()
err_console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/bold red] {message}")
    return typer.Exit(2)


@eval_app.callback(invoke_without_command=True)
def run_eval(
    ctx: typer.Context,
    dataset: Annotated[
        Path | None, typer.Option(help="dataset folder (cases.jsonl + sites/)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="where to write the JSON report")] = None,
    engine: Annotated[EngineChoice | None, typer.Option(help="offline, llm, cascade")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256)] = 4,
    limit: Annotated[int | None, typer.Option(min=1, help="only the first N cases")] = None,
    split: Annotated[
        str | None, typer.Option(help="only cases of this split (splits.json)")
    ] = None,
    html: Annotated[
        Path | None, typer.Option(help="also write a self-contained HTML report")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="continue an interrupted run (journal beside --out)")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="no summary tables")] = False,
) -> None:
    """Review every case as a real review runs, then score and report."""
    if ctx.invoked_subcommand is not None:
        return
    if dataset is None or out is None:
        raise _fail("eval needs --dataset DIR and --out REPORT.json (or: eval compare A B)")
    settings: Settings = ctx.obj
    if engine is not None:
        settings = settings.model_copy(update={"engine": engine})
    try:
        data = load_dataset(dataset)
        cases = data.select(split=split, limit=limit)
    except DatasetError as exc:
        raise _fail(str(exc)) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    journal = out.with_suffix(".journal.jsonl")
    if not resume and journal.exists():
        journal.unlink()
    report = asyncio.run(_run(data, cases, settings, concurrency, journal))
    write_report(report, out)
    if html is not None:
        write_html(report, html)
    if not quiet:
        print_summary(report, console)
    console.print(f"report: {out}" + (f"  html: {html}" if html else ""))


async def _run(
    data: Dataset, cases: list[EvalCase], settings: Settings, concurrency: int, journal: Path
) -> dict[str, Any]:
    store = Store(settings.database_url)
    with Progress(
        TextColumn("[bold]eval"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("cases", total=len(cases))
        runner = EvalRunner(
            data,
            settings,
            store,
            concurrency=concurrency,
            journal=journal,
            on_result=lambda _: progress.advance(task),
        )
        run = await runner.run(cases)
    return build_report(run)


@eval_app.command("compare")
def compare(a: Path, b: Path) -> None:
    """Two reports side by side: metrics, changed cases, paired significance."""
    try:
        comparison = compare_reports(load_report(a), load_report(b))
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    print_comparison(comparison, console)
