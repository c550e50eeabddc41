"""Engines for SQLite (embedded default) and PostgreSQL (production), from one URL.

SQLite gets WAL, a busy timeout and foreign keys, and takes control of its transactions:
pysqlite's own BEGIN handling is switched off, and every transaction begins explicitly,
a writing one with BEGIN IMMEDIATE. Taking the write lock up front is what keeps the hash
chains linear when two processes append at once: the second writer waits for the first
to commit instead of reading a chain head that is about to change. (PostgreSQL gets the
same effect from SELECT ... FOR UPDATE on the chain head rows, see store.py.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError

from merchant_review.storage.errors import StorageError, safe_url

SUPPORTED = frozenset({"sqlite", "postgresql"})
SQLITE_BUSY_TIMEOUT_S = 10.0
WRITE = {"merchant_review_write": True}  # execution option: this transaction will write


def _parse(database_url: str) -> URL:
    try:
        return make_url(database_url)
    except ArgumentError as exc:
        raise StorageError(f"invalid database URL {database_url!r}: {exc}") from exc


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (`show`, a web page) run beside a writing review. isolation_level
    # None stops pysqlite from issuing BEGIN/COMMIT behind SQLAlchemy's back (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # Durability trade-off, on purpose: in WAL mode, synchronous=NORMAL syncs the log at
    # checkpoints instead of at every commit (FULL). A commit stays atomic and survives a
    # crash or kill of the process; only an OS crash or power loss can take back the last
    # transactions before the next checkpoint. What goes is a suffix of the history, so
    # every hash chain stays whole (a review may lose its last records and its verdict,
    # a batch item its completion, which the batch's next claimer settles: see
    # batch/orphans.py). fsync per commit cost about half the audit write time.
    # PostgreSQL is unchanged (its synchronous_commit is left to the operator).
    # docs/audit-log.md, "Write cost and durability".
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    writing = connection.get_execution_options().get("merchant_review_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def make_engine(database_url: str) -> Engine:
    """An engine for the URL; StorageError (password hidden) when the URL is unusable.

    hide_parameters keeps bound values (merchant records, page text) out of SQLAlchemy's
    log lines and exception messages: personal data must not reach logs.
    """
    url = _parse(database_url)
    if url.get_backend_name() not in SUPPORTED:
        raise StorageError(
            f"invalid database URL {safe_url(url)!r}: only SQLite (sqlite:///PATH) and "
            "PostgreSQL (postgresql+psycopg://...) are supported"
        )
    options: dict[str, Any] = {"hide_parameters": True}
    if url.get_backend_name() == "sqlite":
        if "timeout" not in url.query:  # ?timeout=SECONDS overrides the busy wait
            options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    else:
        options["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **options)
    except (ArgumentError, ImportError, ValueError, TypeError) as exc:
        raise StorageError(f"invalid database URL {safe_url(url)!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine
