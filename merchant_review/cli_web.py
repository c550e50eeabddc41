"""Web-app commands of the `merchant-review` CLI, added to the app by `register(app)`.

Commands::

    merchant-review serve [--host 127.0.0.1] [--port 8000] [--reports-dir DIR]
    merchant-review users add NAME --role analyst|viewer [--password-stdin | --no-password]
    merchant-review users list
    merchant-review tokens create NAME [--label TEXT]     (prints the token once)
    merchant-review tokens list | tokens revoke TOKEN_OR_PREFIX
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from merchant_review.settings import Settings
from merchant_review.storage import Store
from merchant_review.web import tables as _tables  # noqa: F401  (the accounts tables)
from merchant_review.web.accounts import AccountError, Accounts, Role

console = Console(soft_wrap=True)
users_app = typer.Typer(help="Web-app users (analysts and viewers).", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for the web app's JSON API.", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.find_root().obj
    assert isinstance(settings, Settings)
    return settings


@contextmanager
def _errors() -> Iterator[None]:
    from merchant_review.cli import UsageFailure, user_errors  # cli.py registers this module

    with user_errors():
        try:
            yield
        except AccountError as exc:
            raise UsageFailure(str(exc)) from exc


def _accounts(ctx: typer.Context) -> Accounts:
    return Accounts(Store(_settings(ctx).database_url))


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    reports_dir: Annotated[
        Path | None, typer.Option(help="eval reports folder (env MERCHANT_REVIEW_WEB_REPORTS_DIR)")
    ] = None,
) -> None:
    """Serve the analyst web app and the JSON API (reviews run in this process)."""
    import uvicorn

    from merchant_review.web.app import create_app
    from merchant_review.web.config import WebSettings

    with _errors():
        web = WebSettings()
        if reports_dir is not None:
            web = web.model_copy(update={"reports_dir": reports_dir})
        app = create_app(_settings(ctx), web)
    console.print(f"merchant-review web app on http://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: str,
    role: Annotated[Role, typer.Option(help="analyst (acts) or viewer (reads)")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="an API-only account (tokens, no login)")
    ] = False,
) -> None:
    """Add a user who logs in with a password (asked for unless --password-stdin)."""
    with _errors():
        accounts = _accounts(ctx)
        if accounts.get_user(name.strip()) is not None:  # say so before asking for a password
            raise AccountError(f"user {name.strip()!r} already exists")
        password = None if no_password else _read_password(password_stdin)
        user = accounts.add_user(name, role, password)
    console.print(f"added user {user.name} ({user.role.value})")


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """Show the users and their roles."""
    with _errors():
        users = _accounts(ctx).list_users()
    for user in users:
        console.print(f"{user.name}\t{user.role.value}", markup=False)


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the user the token acts as")],
    label: Annotated[str, typer.Option(help="what the token is for")] = "",
) -> None:
    """Create an API token for a user and print it (only now: it is stored hashed)."""
    with _errors():
        token = _accounts(ctx).create_token(name, label)
    sys.stdout.write(token + "\n")
    Console(stderr=True).print("store it now: it cannot be shown again")


@tokens_app.command("list")
def tokens_list(ctx: typer.Context) -> None:
    """Show the tokens by prefix, with their users and whether they are revoked."""
    with _errors():
        tokens = _accounts(ctx).list_tokens()
    for t in tokens:
        state = "revoked" if t.revoked else "active"
        created = t.created_at.strftime("%Y-%m-%d")
        console.print(f"{t.prefix}…\t{t.user_name}\t{state}\t{created}\t{t.label}", markup=False)


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    token: Annotated[str, typer.Argument(help="the token, or its prefix from `tokens list`")],
) -> None:
    """Revoke an API token."""
    with _errors():
        count = _accounts(ctx).revoke_token(token.rstrip("…"))
    if count == 0:
        console.print("no active token matches")
        raise typer.Exit(1)
    console.print(f"revoked {count} token(s)")


def register(app: typer.Typer) -> None:
    """Add the web-app commands to the `merchant-review` app."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
