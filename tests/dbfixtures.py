"""Database fixtures: the audit suite runs on SQLite (a temp file) and on PostgreSQL.

PostgreSQL tests use `DATABASE_URL` (CI: postgresql+psycopg://postgres@127.0.0.1:5432/test)
and are skipped, with the reason, when it is unset. Each test gets a schema of its own on
that shared database (the URL's search_path points into it), dropped afterwards, so tests
never see each other's rows and a tampering test cannot break another's chain.

Use: `pytest_plugins = ["tests.dbfixtures"]` in a test module; raw SQL helpers are in
tests/dbtools.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from merchant_review.storage import Store
from tests.dbtools import DATABASE_URL, NO_POSTGRES, postgres_schema


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
        return
    if not DATABASE_URL:
        pytest.skip(NO_POSTGRES)
    with postgres_schema() as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A Store on an empty database (its schema created on opening)."""
    opened = Store(database_url)
    yield opened
    opened.close()
