"""Showing a batch run: a rich progress bar while it runs, a summary when it ends."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from merchant_review.batch.changes import RunSummary
from merchant_review.batch.schema import CARRIED, FAILED, REVIEWED


class RateColumn(ProgressColumn):
    """Items per second, as rich estimates it from recent progress."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- /s" if speed is None else f"{speed:.1f}/s", style="progress.data.speed")


def done(statuses: dict[str, int]) -> int:
    """Items finished one way or another."""
    return sum(statuses.get(s, 0) for s in (REVIEWED, CARRIED, FAILED))


class RunProgress:
    """A progress bar over a run's item counts: done, failed, skipped (carried), rate, ETA."""

    def __init__(self, console: Console, run_id: str, total: int) -> None:
        self._progress = Progress(
            TextColumn(f"[bold]batch {run_id[:8]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("reviewed {task.fields[reviewed]} · skipped {task.fields[carried]}"),
            TextColumn("· [red]failed {task.fields[failed]}"),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self._task: TaskID = self._progress.add_task(
            "batch", total=total, reviewed=0, carried=0, failed=0
        )
        self._seen = False

    def __enter__(self) -> RunProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, statuses: dict[str, int]) -> None:
        """Show the current counts (the first call sets where a resumed run starts)."""
        if not self._seen:  # work done before this process started is not its speed
            self._progress.reset(self._task, completed=done(statuses))
            self._seen = True
        self._progress.update(
            self._task,
            completed=done(statuses),
            reviewed=statuses.get(REVIEWED, 0),
            carried=statuses.get(CARRIED, 0),
            failed=statuses.get(FAILED, 0),
        )


def print_summary(summary: RunSummary, console: Console) -> None:
    """Decisions by type, changed decisions, failures."""
    console.print(f"[bold]batch run {summary.run_id}[/bold]")
    table = Table(show_header=False, box=None)
    table.add_row("merchants", str(summary.total))
    for status, count in sorted(summary.statuses.items()):
        table.add_row(f"  {status}", str(count))
    for decision, count in summary.decisions.most_common():
        table.add_row(f"decision {decision}", str(count))
    table.add_row("changed decisions", str(summary.changed))
    console.print(table)
    for merchant_id, error in summary.failures:
        console.print(f"[red]failed[/red] {merchant_id}: {error}")
    if summary.changed:
        console.print(f"list them with: merchant-review batch changes {summary.run_id}")
