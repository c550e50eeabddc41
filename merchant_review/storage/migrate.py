"""Schema migrations (Alembic, configured from code) and the rule for opening a database.

The rule, applied whenever a Store opens a database:

- an **empty** database (no tables at all: a new SQLite file, a new PostgreSQL database or
  schema) is created at the latest revision automatically, so `merchant-review demo` works
  on a fresh machine;
- a database at the **latest** revision opens;
- anything else is refused with a message saying what to do: an **older** revision needs
  `merchant-review db upgrade`; a **newer or unknown** revision needs a newer
  merchant-review; tables **without a schema version** are a foreign database (or one made
  before migrations existed) and are never touched; a versioned schema **missing tables**
  is damaged.

Creating and upgrading run in one transaction under a lock (BEGIN IMMEDIATE on SQLite, an
advisory lock on PostgreSQL): two processes opening the same empty database create it once,
and a failed migration leaves nothing half-done.

New revisions: `alembic.command.revision(alembic_config(), message=..., autogenerate=True)`
with a connection in `config.attributes["connection"]`; see merchant_review/migrations/.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from merchant_review.storage.engine import WRITE
from merchant_review.storage.errors import StorageError, describe_db_error, safe_url
from merchant_review.storage.schema import Base

log = logging.getLogger(__name__)

# Every module that maps tables on Base. Alembic must see them all (or autogenerate would
# drop the tables it does not see): add a module here when it adds tables.
TABLE_MODULES = (
    "merchant_review.storage.schema",
    "merchant_review.web.tables",
    "merchant_review.batch.schema",
    "merchant_review.experiments.schema",
)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"
_PG_LOCK_KEY = 0x6D72_6462  # "mrdb": one advisory lock for schema changes
# The tables of merchant-review before it had migrations (created by create_all).
_LEGACY_TABLES = frozenset({"merchants", "reviews", "verdicts", "review_events", "fetched_pages"})


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without alembic.ini; migrations run on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def table_metadata() -> MetaData:
    """Base.metadata with every table module imported: what the migrations must match."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return Base.metadata


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "merchant_review/migrations has no revisions"
    return head


def _known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


@dataclass(frozen=True)
class SchemaState:
    """What a database holds: its tables and Alembic revision (None: unversioned)."""

    tables: frozenset[str]
    revision: str | None

    @property
    def empty(self) -> bool:
        """No tables, or only Alembic's (left by a downgrade to the base)."""
        return self.revision is None and not self.tables - {VERSION_TABLE}

    @property
    def current(self) -> bool:
        return self.revision == head_revision()


def read_state(connection: Connection) -> SchemaState:
    tables = frozenset(inspect(connection).get_table_names())
    revision = None
    if VERSION_TABLE in tables:
        revision = MigrationContext.configure(connection).get_current_revision()
    return SchemaState(tables, revision)


def _missing_tables(state: SchemaState) -> list[str]:
    """Tables the running code maps (the modules it has imported) that are not there."""
    return sorted(set(Base.metadata.tables) - state.tables)


def schema_problem(state: SchemaState, where: str) -> str | None:
    """Why a database cannot be used as it is (None: it can), in words a user can act on."""
    if state.empty:
        return f"database {where} is empty: run `merchant-review db upgrade` to create it"
    if state.revision is None:
        if state.tables >= _LEGACY_TABLES:
            return (
                f"database {where} was made by a merchant-review without schema migrations "
                "and cannot be upgraded in place: point MERCHANT_REVIEW_DATABASE_URL at a new "
                "database (the old one stays readable by the old version)"
            )
        listed = ", ".join(sorted(state.tables)[:8])
        return f"database {where} is not a merchant-review database (it holds: {listed})"
    if not _known(state.revision):
        return (
            f"database {where} has schema revision {state.revision}, unknown to this "
            "version of merchant-review (made by a newer one?): upgrade merchant-review"
        )
    if not state.current:
        return (
            f"database {where} has schema revision {state.revision}, older than this "
            f"version's {head_revision()}: run `merchant-review db upgrade`"
        )
    if missing := _missing_tables(state):
        return f"database {where} is damaged: tables missing: {', '.join(missing)}"
    return None


def _upgradable(state: SchemaState) -> bool:
    return state.empty or (state.revision is not None and _known(state.revision))


def _lock(connection: Connection) -> None:
    # SQLite: the write transaction (BEGIN IMMEDIATE) already serialises schema changes.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to the latest revision: (revision before, after)."""
    where = safe_url(engine.url)
    try:
        with engine.execution_options(**WRITE).begin() as connection:
            _lock(connection)
            state = read_state(connection)
            if not _upgradable(state):
                raise StorageError(schema_problem(state, where) or f"cannot upgrade {where}")
            if not state.current:
                command.upgrade(alembic_config(connection), head_revision())
    except DBAPIError as exc:
        raise describe_db_error(exc, engine.url) from exc
    if state.revision != head_revision():
        log.info("database %s: schema %s -> %s", where, state.revision, head_revision())
    return state.revision, head_revision()


def current_state(engine: Engine) -> SchemaState:
    try:
        with engine.connect() as connection:
            return read_state(connection)
    except DBAPIError as exc:
        raise describe_db_error(exc, engine.url) from exc


def ensure_schema(engine: Engine, *, create: bool = True) -> None:
    """Open-time check: create an empty database (when `create`), refuse an unusable one."""
    state = current_state(engine)
    if state.empty and create:
        upgrade(engine)
        return
    if problem := schema_problem(state, safe_url(engine.url)):
        raise StorageError(problem)
