"""The `merchant-review` command line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from merchant_review.experiments import single
from merchant_review.policy import PolicyError
from merchant_review.records import MerchantRecord
from merchant_review.render import print_merchants, print_stored_review, print_verdict
from merchant_review.review import Reviewer, ReviewInputError
from merchant_review.settings import (
    ConfigError,
    EngineChoice,
    Settings,
    load_settings,
)
from merchant_review.storage import StorageError, Store

app = typer.Typer(
    help="Review merchants for payment-processor supportability: crawl, cite, decide, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
merchants_app = typer.Typer(help="The merchant-records database.", no_args_is_help=True)
app.add_typer(merchants_app, name="merchants")


def _register_eval() -> None:
    from evals.cli import eval_app

    app.add_typer(eval_app, name="eval")


_register_eval()

console = Console()
err_console = Console(stderr=True)


class UsageFailure(Exception):
    """Bad input from the user: printed as one clear line, exit code 2."""


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn expected failures into a clear message and a non-zero exit, not a traceback."""
    try:
        yield
    except (
        UsageFailure,
        ReviewInputError,
        ConfigError,
        StorageError,
        PolicyError,
    ) as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc}")
        raise typer.Exit(2) from exc
    except Exception as exc:
        from agent.engines import EngineConfigError

        if isinstance(exc, EngineConfigError):
            err_console.print(f"[bold red]error:[/bold red] {exc}")
            raise typer.Exit(2) from exc
        raise


@app.callback()
def main_options(
    ctx: typer.Context,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (env MERCHANT_REVIEW_DATABASE_URL)")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="a .env file with MERCHANT_REVIEW_* settings")
    ] = None,
    engine: Annotated[
        EngineChoice | None, typer.Option(help="offline, llm, cascade, or auto")
    ] = None,
    model: Annotated[str | None, typer.Option(help="model name for the LLM engine")] = None,
    model_base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL (vLLM, Ollama, llama.cpp)")
    ] = None,
) -> None:
    """Global settings; every option also reads from MERCHANT_REVIEW_* environment variables."""
    overrides: dict[str, Any] = {}
    if database_url:
        overrides["database_url"] = database_url
    if engine:
        overrides["engine"] = engine
    model_overrides = {
        k: v for k, v in {"name": model, "base_url": model_base_url}.items() if v is not None
    }
    if model_overrides:
        overrides["model"] = model_overrides
    with user_errors():
        if config is not None:
            if not config.is_file() or not os.access(config, os.R_OK):
                raise ConfigError(f"cannot read config file {config}")
            overrides["_env_file"] = config
        ctx.obj = load_settings(**overrides)


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


@app.command()
def review(
    ctx: typer.Context,
    merchant_id: Annotated[str | None, typer.Argument(help="a merchant in the records DB")] = None,
    url: Annotated[str | None, typer.Option(help="review a website with no stored record")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the verdict as JSON")] = False,
) -> None:
    """Review one merchant (or one website) and print the verdict."""
    with user_errors():
        if (merchant_id is None) == (url is None):
            raise UsageFailure("give either a MERCHANT_ID or --url, not both")
        settings = _settings(ctx)
        store = Store(settings.database_url)

        async def run() -> Any:
            if merchant_id is not None:  # as the champion; shadowed when the settings ask
                return await single.review_merchant(settings, store, merchant_id)
            assert url is not None
            async with Reviewer(settings, store) as reviewer:
                return await reviewer.review_url(url)

        verdict = asyncio.run(run())
    if as_json:
        sys.stdout.write(verdict.model_dump_json(indent=2) + "\n")
    else:
        print_verdict(verdict, console)


def read_merchant_lines(path: Path) -> list[MerchantRecord]:
    """Parse a JSONL file of merchant objects (or eval cases); all-or-nothing."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageFailure(f"cannot read {path}: {exc}") from exc
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if isinstance(data, dict) and isinstance(data.get("merchant"), dict):
                data = data["merchant"]
            records.append(MerchantRecord.model_validate(data))
        except json.JSONDecodeError as exc:
            raise UsageFailure(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise UsageFailure(f"{path}:{number}: not a merchant record ({problems})") from exc
    return records


@merchants_app.command("import")
def merchants_import(ctx: typer.Context, file: Path) -> None:
    """Load merchant records (one JSON object per line) into the records database."""
    with user_errors():
        records = read_merchant_lines(file)
        count = Store(_settings(ctx).database_url).import_merchants(records)
    console.print(f"imported {count} merchant records")


@merchants_app.command("list")
def merchants_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Show the merchant records."""
    with user_errors():
        store = Store(_settings(ctx).database_url)
        print_merchants(store.list_merchants(limit, offset), console)


@app.command()
def show(
    ctx: typer.Context,
    review_id: Annotated[str, typer.Argument(help="a review id (or a unique prefix)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print a stored review: verdict, audit trail and fetched pages."""
    with user_errors():
        settings = _settings(ctx)
        stored = Store(settings.database_url).get_review(review_id)
        if stored is None:
            raise UsageFailure(f"no review {review_id!r} (or the prefix is ambiguous)")
    if as_json:
        verdict = stored.parsed_verdict()
        sys.stdout.write((verdict.model_dump_json(indent=2) if verdict else "null") + "\n")
    else:
        print_stored_review(stored, console, settings.prices)


@app.command()
def demo(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print verdicts as JSON")] = False,
) -> None:
    """Seed demo merchants, serve their sites on 127.0.0.1, review them, print verdicts."""
    from merchant_review.demo import run_demo

    with user_errors():
        verdicts = asyncio.run(run_demo(_settings(ctx), console, verbose=not as_json))
    if as_json:
        sys.stdout.write(json.dumps([v.model_dump(mode="json") for v in verdicts], indent=2) + "\n")


def main() -> None:
    app()


# The audit-log commands (db, audit verify, replay, override, export-labels).
# Command groups defined beside their features; imported last since they use this module.
from merchant_review import cli_audit, cli_web  # noqa: E402

cli_audit.register(app)  # db, audit verify, replay, override, export-labels
cli_web.register(app)  # serve, users, tokens

# Batch re-review (batch, worker).
from merchant_review.batch.cli import register as register_batch  # noqa: E402

register_batch(app)

# Champion/challenger configurations and shadow-mode reports (experiment).
from merchant_review.experiments.cli import register as register_experiments  # noqa: E402

register_experiments(app)
