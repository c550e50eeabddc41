"""The `experiment` commands of the `merchant-review` CLI, added by `register(app)`.

    merchant-review experiment create NAME [--engine E] [--model-name M] [--model-base-url U]
        [--temperature T] [--prompts-dir DIR] [--policy-dir DIR] [--reject-min-confidence X]
        [--approve-min-confidence X] [--cascade-route R] [--cascade-threshold X]
        [--price-in USD] [--price-out USD] [--champion | --challenger] [--description TEXT]
    merchant-review experiment list [--json]
    merchant-review experiment report NAME [--alpha 0.05] [--json] [--show N]
    merchant-review experiment promote NAME --by ANALYST [--alpha 0.05] [--force]
    merchant-review experiment retire NAME --by ANALYST --reason TEXT
    merchant-review experiment log [--json]          # the history, its hash chain checked
    merchant-review experiment simulate              # the sequential test's error rates

Shadow reviews come from batch runs: `merchant-review batch --all --shadow NAME --share 0.2`.
Exit codes: 0 done; 1 `promote` refused (the test does not say promote) or the log is
broken; 2 bad input.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from merchant_review.experiments import configs, log, stats
from merchant_review.experiments.report import DECISIONS, ExperimentReport, experiment_report
from merchant_review.experiments.spec import ConfigSpec, SpecError
from merchant_review.settings import CascadeRoute, EngineChoice, Settings
from merchant_review.storage import Store

console = Console()
err_console = Console(stderr=True)
experiment_app = typer.Typer(
    help="Champion/challenger review configurations, shadow-mode reports, promotion.",
    no_args_is_help=True,
)
AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]
Alpha = Annotated[float, typer.Option(min=0.001, max=0.5, help="the test's error bound")]
By = Annotated[str, typer.Option("--by", help="who does it (recorded in the experiment log)")]
Probability = Annotated[float | None, typer.Option(min=0.0, max=1.0)]


@contextmanager
def _errors() -> Iterator[None]:
    from merchant_review.cli import UsageFailure, user_errors  # cli.py registers this module

    with user_errors():
        try:
            yield
        except SpecError as exc:
            raise UsageFailure(str(exc)) from exc


def _root(ctx: typer.Context) -> Settings:
    settings = ctx.find_root().obj
    assert isinstance(settings, Settings)
    return settings


def _store(ctx: typer.Context) -> Store:
    return Store(_root(ctx).database_url)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


@experiment_app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="a name: letters, digits, _ . : -")],
    engine: Annotated[EngineChoice | None, typer.Option()] = None,
    model_name: Annotated[str | None, typer.Option()] = None,
    model_base_url: Annotated[str | None, typer.Option()] = None,
    temperature: Annotated[float | None, typer.Option(min=0.0, max=2.0)] = None,
    prompts_dir: Annotated[Path | None, typer.Option(help="a folder of prompt files")] = None,
    policy_dir: Annotated[Path | None, typer.Option(help="a folder of policy rules")] = None,
    reject_min_confidence: Probability = None,
    approve_min_confidence: Probability = None,
    cascade_route: Annotated[CascadeRoute | None, typer.Option()] = None,
    cascade_threshold: Probability = None,
    price_in: Annotated[float, typer.Option(min=0.0, help="USD per 1M prompt tokens")] = 0.0,
    price_out: Annotated[float, typer.Option(min=0.0, help="USD per 1M completion tokens")] = 0.0,
    champion: Annotated[
        bool | None,
        typer.Option("--champion/--challenger", help="default: champion if it is the first"),
    ] = None,
    description: Annotated[str, typer.Option()] = "",
    by: By = "",
) -> None:
    """Store a named review configuration (overrides over the running settings)."""
    with _errors():
        spec = ConfigSpec.parse(
            {
                "engine": engine,
                "model_name": model_name,
                "model_base_url": model_base_url,
                "temperature": temperature,
                "prompts_dir": prompts_dir.resolve() if prompts_dir else None,
                "policy_dir": policy_dir.resolve() if policy_dir else None,
                "reject_min_confidence": reject_min_confidence,
                "approve_min_confidence": approve_min_confidence,
                "cascade_route": cascade_route,
                "cascade_threshold": cascade_threshold,
                "price_in_per_mtok": price_in,
                "price_out_per_mtok": price_out,
            }
        )
        spec.apply(_root(ctx))  # refuse now what could not run later
        _check_folders(spec)
        config = configs.create(
            _store(ctx),
            name,
            spec,
            actor=by or getpass.getuser(),
            description=description,
            champion=champion,
        )
    console.print(f"created {config.role} {config.name}: {config.spec.describe()}")


def _check_folders(spec: ConfigSpec) -> None:
    """The prompt set and policy corpus a configuration names must load."""
    from agent.prompts import PromptError, PromptSet
    from merchant_review.policy import load_corpus

    if spec.prompts_dir is not None:
        try:
            PromptSet.load(spec.prompts_dir)
        except PromptError as exc:
            raise SpecError(f"--prompts-dir: {exc}") from exc
    if spec.policy_dir is not None:
        load_corpus(spec.policy_dir)  # a PolicyError says what is wrong


@experiment_app.command("list")
def list_configs(ctx: typer.Context, as_json: AsJson = False) -> None:
    """The configurations: the champion first."""
    with _errors():
        found = configs.listing(_store(ctx))
    if as_json:
        _print_json([c.record() for c in found])
        return
    table = Table(title="review configurations")
    for column in ("name", "role", "configuration", "description"):
        table.add_column(column)
    for config in found:
        table.add_row(config.name, config.role, config.spec.describe(), config.description)
    console.print(table if found else "no configurations: `merchant-review experiment create`")


@experiment_app.command()
def report(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="a challenger configuration")],
    alpha: Alpha = 0.05,
    show: Annotated[int, typer.Option(min=0, help="disagreements to list")] = 20,
    as_json: AsJson = False,
) -> None:
    """Compare a challenger with the champion on the merchants both reviewed."""
    with _errors():
        found = experiment_report(_store(ctx), name, alpha, _root(ctx).prices)
    if as_json:
        _print_json(found.record())
        return
    print_report(found, show)


@experiment_app.command()
def promote(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the challenger to make the champion")],
    by: By,
    alpha: Alpha = 0.05,
    force: Annotated[
        bool, typer.Option(help="promote although the test does not say so (recorded)")
    ] = False,
) -> None:
    """Make a challenger the champion, recorded with the report that justified it."""
    with _errors():
        store = _store(ctx)
        found = experiment_report(store, name, alpha, _root(ctx).prices)
        if found.decision != stats.PROMOTE and not force:
            err_console.print(
                f"not promoted: the sequential test says {found.decision} "
                f"({found.test.challenger_wins} vs {found.test.champion_wins} labelled "
                "disagreements); --force to promote anyway"
            )
            raise typer.Exit(1)
        record = {**found.record(), "forced": found.decision != stats.PROMOTE}
        configs.promote(store, name, actor=by, report=record)
    console.print(f"{name} is the champion (was {found.champion}); test said {found.decision}")


@experiment_app.command()
def retire(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the challenger to stop")],
    by: By,
    reason: Annotated[str, typer.Option(help="why (recorded)")],
) -> None:
    """Stop a challenger: it can no longer be shadowed or promoted."""
    with _errors():
        configs.retire(_store(ctx), name, actor=by, reason=reason)
    console.print(f"{name} retired")


@experiment_app.command("log")
def history(ctx: typer.Context, as_json: AsJson = False) -> None:
    """The experiment history (created, promoted, retired), its hash chain verified."""
    with _errors():
        store = _store(ctx)
        entries, check = log.entries(store), log.verify(store)
    if as_json:
        _print_json(
            {
                "ok": check.ok,
                "problem": check.problem,
                "entries": [
                    {
                        "seq": e.seq,
                        "kind": e.kind,
                        "config": e.config,
                        "by": e.actor,
                        "at": e.created_at.isoformat(),
                        "payload": e.payload,
                    }
                    for e in entries
                ],
            }
        )
    else:
        for entry in entries:
            console.print(
                f"#{entry.seq} {entry.created_at:%Y-%m-%d %H:%M:%S} {entry.kind} "
                f"{entry.config} by {entry.actor}"
            )
        console.print("chain ok" if check.ok else f"[bold red]BROKEN[/]: {check.problem}")
    if not check.ok:
        raise typer.Exit(1)


@experiment_app.command()
def simulate(
    pairs: Annotated[int, typer.Option(min=1, help="labelled disagreements per experiment")] = 1000,
    runs: Annotated[int, typer.Option(min=1, help="simulated experiments")] = 2000,
    alpha: Alpha = 0.05,
    better: Annotated[float, typer.Option(min=0.0, max=1.0, help="p under the alternative")] = 0.65,
    seed: int = 20261129,
) -> None:
    """The sequential test's false-promotion rate (and power), by seeded simulation."""
    null, power = (
        stats.simulate(p=p, max_pairs=pairs, simulations=runs, alpha=alpha, seed=seed)
        for p in (0.5, better)
    )
    console.print(
        f"{runs} simulated experiments, the test checked after every one of {pairs} "
        f"labelled disagreements, alpha {alpha}:"
    )
    console.print(
        f"  equal accuracy (the null): promoted {null.promoted:.4f} "
        f"(a one-look z-test checked as often: {null.peeking_promoted:.4f})"
    )
    median = "-" if power.median_pairs is None else f"{power.median_pairs:.0f}"
    console.print(
        f"  challenger right in {better:.0%} of disagreements: promoted {power.promoted:.4f}, "
        f"median {median} labelled disagreements to promotion"
    )


def print_report(found: ExperimentReport, show: int) -> None:
    console.print(
        f"[bold]{found.config}[/] (challenger: {found.specs['challenger']}) vs champion "
        f"[bold]{found.champion}[/]: {found.specs['champion']}"
    )
    console.print(f"{found.pairs} shadowed reviews of {found.merchants} merchants")
    for side, versions in found.versions.items():
        if versions:
            ran = "; ".join(f"{v} ({n})" for v, n in versions.items())
            console.print(f"  {side} ran with: {ran}", markup=False)
    console.print(_matrix(found))
    if found.disagreement:
        d = found.disagreement
        console.print(
            f"disagreement rate {d.estimate:.3f} "
            f"(always-valid {1 - found.alpha:.0%} CS {d.low:.3f}-{d.high:.3f})"
        )
    _print_disagreements(found, show)
    _print_usage(found)
    console.print(f"labelled pairs (analyst overrode or confirmed the champion): {found.labelled}")
    for side, acc in found.accuracy.items():
        if acc is not None:
            console.print(
                f"  {side} accuracy {acc.estimate:.3f} (Wilson {1 - found.alpha:.0%} "
                f"{acc.low:.3f}-{acc.high:.3f})"
            )
    t, figures = found.test, found.test.record()
    console.print(
        f"sequential test on {t.challenger_wins + t.champion_wins} labelled disagreements: "
        f"challenger right {t.challenger_wins}, champion right {t.champion_wins}; "
        f"LR better {figures['likelihood_ratio_better']:.2f}, worse "
        f"{figures['likelihood_ratio_worse']:.2f}, threshold {1 / t.alpha:.0f}: "
        f"[bold]{t.decision}[/]"
    )


def _matrix(found: ExperimentReport) -> Table:
    table = Table(title="decisions: champion (rows) × challenger (columns)")
    table.add_column("champion \\ challenger")
    for decision in DECISIONS:
        table.add_column(decision, justify="right")
    for row in DECISIONS:
        table.add_row(row, *(str(found.matrix[row][col]) for col in DECISIONS))
    return table


def _cited(citations: list[dict[str, Any]]) -> str:
    parts = []
    for c in citations[:3]:
        where = c.get("url") or c.get("field") or "?"
        parts.append(f"{c.get('rule_id')}: “{c.get('quote') or c.get('value') or ''}” ({where})")
    more = f" +{len(citations) - 3}" if len(citations) > 3 else ""
    return "\n".join(parts) + more


def _print_disagreements(found: ExperimentReport, show: int) -> None:
    if not found.disagreements or show == 0:
        return
    table = Table(title=f"disagreements ({len(found.disagreements)}; `show REVIEW_ID`)")
    for column in ("merchant", "champion", "challenger", "analyst"):
        table.add_column(column)
    for pair in found.disagreements[:show]:
        cells = []
        for side in (pair.champion, pair.challenger):
            cats = ", ".join(side.categories)
            cited = _cited(side.citations)
            cells.append(f"{side.decision} {cats}\n{side.review_id[:12]}\n{cited}".strip())
        table.add_row(pair.merchant_id, *cells, pair.label.decision if pair.label else "")
    console.print(table)


def _print_usage(found: ExperimentReport) -> None:
    table = Table(title="per review (latency without the crawl)")
    columns = ("", "reviews", "failed", "model calls", "tokens in", "tokens out", "cost USD")
    for column in (*columns, "ms mean", "ms p50"):
        table.add_column(column, justify="right")
    for side, u in found.usage.items():
        table.add_row(
            side,
            str(u.reviews),
            str(u.errors),
            f"{u.llm_calls:.2f}",
            f"{u.prompt_tokens:.0f}",
            f"{u.completion_tokens:.0f}",
            "no price" if u.cost_usd is None else f"{u.cost_usd:.5f}",
            f"{u.latency_ms_mean:.1f}",
            f"{u.latency_ms_p50:.1f}",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(experiment_app, name="experiment")
