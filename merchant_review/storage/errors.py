"""Storage errors: one exception type whose message names the problem in plain words."""

from __future__ import annotations

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError


class StorageError(Exception):
    """The database cannot be used (or refused a write); the message says why."""


class UnknownReview(StorageError):
    """No review has that id (or the prefix matches several)."""


def safe_url(url: URL | str) -> str:
    """The URL for messages and logs: never with its password."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return url


def _driver_message(exc: DBAPIError) -> str:
    # The driver's own words (first line): SQLAlchemy's str() adds the SQL, which can be long.
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)


def describe_db_error(exc: DBAPIError, url: URL) -> StorageError:
    """A StorageError naming what went wrong with the database at `url`."""
    where = safe_url(url)
    message = _driver_message(exc)
    lowered = message.lower()
    if "database is locked" in lowered or "database table is locked" in lowered:
        return StorageError(
            f"database {where} is locked by another process (gave up waiting): try again, "
            "or raise the wait with ?timeout=SECONDS on a SQLite URL"
        )
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return StorageError(
            f"database {where} is missing a table ({message}): the schema is incomplete or "
            "damaged; run `merchant-review db upgrade` or restore the database"
        )
    if "connection" in lowered and ("failed" in lowered or "refused" in lowered):
        return StorageError(f"cannot connect to database {where}: {message}")
    if "file is not a database" in lowered or "malformed" in lowered:
        return StorageError(f"cannot open database {where}: {message} (corrupt or not SQLite)")
    if "append-only" in lowered:
        return StorageError(f"database {where} refused to change an audit record: {message}")
    if isinstance(exc, IntegrityError):
        return StorageError(f"database {where} refused the write: {message}")
    return StorageError(f"database error on {where}: {message}")


class InvalidOverride(StorageError):
    """An analyst override that cannot be recorded as given (the message says why)."""
