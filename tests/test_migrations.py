"""Schema migrations and the rule for opening a database, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from merchant_review.cli import app
from merchant_review.storage import StorageError, Store, migrate
from merchant_review.storage.engine import make_engine
from merchant_review.storage.migrate import alembic_config, head_revision, table_metadata
from tests.auditdata import MERCHANT, write_review
from tests.dbtools import query, tamper

pytest_plugins = ["tests.dbfixtures"]  # the database_url and store fixtures

runner = CliRunner()


def test_the_migrations_make_exactly_the_tables_the_code_maps(store: Store) -> None:
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), table_metadata())
    assert differences == []
    assert query(store.url, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    heads = query(store.url, "SELECT chain_id, length FROM chain_heads ORDER BY chain_id")
    assert heads == [("experiments", 0), ("ledger", 0)]  # experiments: migration r0004


def test_downgrade_to_nothing_and_upgrade_again(store: Store) -> None:
    write_review(store)
    with store.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert migrate.current_state(store.engine).empty
    assert migrate.upgrade(store.engine) == (None, head_revision())
    assert store.list_reviews() == []


def test_an_empty_database_is_created_on_first_use_unless_told_not_to(database_url: str) -> None:
    with pytest.raises(StorageError, match=r"is empty: run `merchant-review db upgrade`"):
        Store(database_url, create=False)
    base = ["--database-url", database_url]
    status = runner.invoke(app, [*base, "db", "status"])
    assert status.exit_code == 1 and "revision none" in status.output
    created = runner.invoke(app, [*base, "db", "upgrade"])
    assert created.exit_code == 0, created.output
    assert f"schema none -> {head_revision()}" in created.output
    again = runner.invoke(app, [*base, "db", "upgrade"])
    assert f"up to date (revision {head_revision()})" in again.output
    assert runner.invoke(app, [*base, "db", "status"]).exit_code == 0
    Store(database_url, create=False).close()


def test_a_new_sqlite_file_just_works_from_the_cli(tmp_path: Path) -> None:
    records = tmp_path / "merchants.jsonl"
    records.write_text(MERCHANT.model_dump_json() + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'new' / 'fresh.db'}"
    (tmp_path / "new").mkdir()
    result = runner.invoke(app, ["--database-url", url, "merchants", "import", str(records)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["--database-url", url, "merchants", "list"]).exit_code == 0


def test_an_older_schema_is_refused_with_what_to_do(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    current = head_revision()
    monkeypatch.setattr(migrate, "head_revision", lambda: "zz99")  # this code is newer
    with pytest.raises(StorageError, match=f"revision {current}, older than this version's zz99"):
        Store(store.url)
    result = runner.invoke(app, ["--database-url", store.url, "show", "abc"])
    assert result.exit_code == 2
    assert "run `merchant-review db upgrade`" in " ".join(result.output.split())


def test_a_newer_schema_is_refused(store: Store) -> None:
    tamper(store.url, "UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StorageError, match=r"revision 9999, unknown to this version"):
        Store(store.url)
    result = runner.invoke(app, ["--database-url", store.url, "db", "upgrade"])
    assert result.exit_code == 2
    assert "upgrade merchant-review" in " ".join(result.output.split())


def test_a_damaged_schema_is_refused(store: Store) -> None:
    tamper(store.url, "DROP TABLE overrides")
    with pytest.raises(StorageError, match="is damaged: tables missing: overrides"):
        Store(store.url)


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        (["customers", "orders"], r"not a merchant-review database \(it holds: customers, orders"),
        (
            ["merchants", "reviews", "verdicts", "review_events", "fetched_pages"],
            "made by a merchant-review without schema migrations",
        ),
    ],
)
def test_a_foreign_or_premigration_database_is_refused_and_left_alone(
    database_url: str, tables: list[str], message: str
) -> None:
    tamper(database_url, *(f"CREATE TABLE {name} (id INTEGER)" for name in tables))
    with pytest.raises(StorageError, match=message):
        Store(database_url)
    result = runner.invoke(app, ["--database-url", database_url, "db", "upgrade"])
    assert result.exit_code == 2
    engine = make_engine(database_url)
    assert migrate.current_state(engine).tables == frozenset(tables)  # nothing written
    engine.dispose()


def test_processes_opening_a_new_database_at_once_create_it_once(database_url: str) -> None:
    def open_and_write(_: int) -> str:
        opened = Store(database_url)
        try:
            return write_review(opened)
        finally:
            opened.close()

    with ThreadPoolExecutor(4) as pool:
        review_ids = list(pool.map(open_and_write, range(4)))
    assert len(set(review_ids)) == 4
    assert query(database_url, "SELECT COUNT(*) FROM alembic_version") == [(1,)]
