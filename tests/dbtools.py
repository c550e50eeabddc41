"""Raw database access for audit tests: fresh PostgreSQL schemas, queries, tampering."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DATABASE_URL = os.environ.get("DATABASE_URL", "")
NO_POSTGRES = "DATABASE_URL is not set: the PostgreSQL runs of the audit suite are skipped"


def schema_url(base: str, schema: str) -> str:
    """`base` with every connection's search_path set to `schema` (libpq options)."""
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A new, empty schema on DATABASE_URL's database; its URL; dropped on exit."""
    name = f"mr_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(DATABASE_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield schema_url(DATABASE_URL, name)
    finally:
        with admin.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '20s'"))
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def tamper(database_url: str, *statements: str, **params: object) -> None:
    """Run SQL as an attacker with database access: past the append-only triggers."""
    if database_url.startswith("sqlite"):
        path = make_url(database_url).database or ""
        connection = sqlite3.connect(path)
        triggers = connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        for (name,) in triggers.fetchall():
            connection.execute(f'DROP TRIGGER "{name}"')
        for statement in statements:
            connection.execute(statement, params)
        connection.commit()
        connection.close()
        return
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))  # no triggers
        for statement in statements:
            connection.execute(text(statement), params)
    engine.dispose()


def query(database_url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    """Rows of a raw SQL query (to look at the database as it is)."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(text(statement), params)]
    engine.dispose()
    return rows
