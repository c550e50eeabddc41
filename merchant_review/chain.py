"""The hash chains that make the audit log tamper-evident.

Per review: every record (the review row, its crawl, events, pages, verdict, overrides)
has a place `seq` in the review's chain. Its `field_hashes` map each content column to
sha256(canonical JSON of the value), and

    row_hash = sha256(canonical JSON of {"table", "prev": previous row_hash, "fields"})

so changing a value breaks its field hash (and verification names the column), changing a
field hash breaks the row hash, and removing, inserting or reordering records breaks the
links. Over reviews: the ledger (audit_ledger) gets an entry whenever a review starts, gets
its verdict or an override; each entry commits to that record's row_hash and to the
previous entry, tying all reviews into one linear history.

The hashes are unkeyed: someone able to rewrite the database *and* recompute every hash
after the change is not stopped by them. Publishing the ledger head (`audit verify` prints
it) somewhere else at intervals closes that gap; see README.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float

from merchant_review.audit import sha256_of

if TYPE_CHECKING:  # the storage package imports this module to seal what it writes
    from merchant_review.storage.schema import Chained, LedgerRow


def _normal(column_type: object, value: Any) -> Any:
    """One form per value, whatever the database hands back.

    SQLite returns naive datetimes and PostgreSQL aware ones in the session's time zone;
    a Float column returns 1.0 for an int 1 written. Hashes must not depend on that.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(column_type, Float):
        return float(value)
    return value


def field_hashes(row: Chained) -> dict[str, str]:
    """sha256 of every content column the row's chain covers."""
    columns = type(row).__table__.c  # type: ignore[attr-defined]
    return {
        name: sha256_of(_normal(columns[name].type, getattr(row, name))) for name in row.CHAINED
    }


def row_hash(table: str, prev_hash: str, hashes: dict[str, Any]) -> str:
    return sha256_of({"table": table, "prev": prev_hash, "fields": hashes})


def table_of(row: Chained) -> str:
    return str(type(row).__tablename__)  # type: ignore[attr-defined]


def seal(row: Chained, seq: int, prev_hash: str) -> None:
    """Place a new record at `seq` after `prev_hash`, and fill in its hashes."""
    row.seq = seq
    row.prev_hash = prev_hash
    row.field_hashes = field_hashes(row)
    row.row_hash = row_hash(table_of(row), prev_hash, row.field_hashes)


def entry_hash(entry: LedgerRow) -> str:
    return sha256_of(
        {
            "position": entry.position,
            "review_id": entry.review_id,
            "kind": entry.kind,
            "record_seq": entry.record_seq,
            "record_hash": entry.record_hash,
            "created_at": _normal(None, entry.created_at),
            "prev": entry.prev_hash,
        }
    )


# -- checking one record -------------------------------------------------------------------


def changed_fields(row: Chained) -> list[str]:
    """Content columns whose value no longer matches the hash recorded for it."""
    stored = row.field_hashes if isinstance(row.field_hashes, dict) else {}
    now = field_hashes(row)
    return [name for name in row.CHAINED if stored.get(name) != now[name]]


def record_problem(row: Chained, expected_seq: int, prev_hash: str) -> str | None:
    """Why `row` does not belong at `expected_seq` after `prev_hash`; None when it does."""
    changed = changed_fields(row)
    if changed == ["seq"]:
        return f"moved: it was written at another position than #{row.seq} (order changed)"
    if changed:
        return f"content changed since it was written: {', '.join(changed)}"
    if row_hash(table_of(row), row.prev_hash, row.field_hashes) != row.row_hash:
        return "its recorded hashes were altered (row hash does not match its field hashes)"
    if row.seq > expected_seq:
        return f"record #{expected_seq} before it is missing (deleted)"
    if row.seq < expected_seq:
        return f"a second record claims #{row.seq} (inserted)"
    if row.prev_hash != prev_hash:
        return "does not link to the record before it (a record was replaced or reordered)"
    return None


def describe(row: Chained) -> str:
    """A short name of a record for reports: position, table and what it is."""
    detail = {
        "reviews": lambda: f"review of {getattr(row, 'website', '?')}",
        "crawls": lambda: f"crawl of {getattr(row, 'start_url', '?')}",
        "review_events": lambda: f"{getattr(row, 'kind', '?')} {getattr(row, 'name', '?')}",
        "fetched_pages": lambda: f"page {getattr(row, 'url', '?')}",
        "verdicts": lambda: f"verdict {getattr(row, 'decision', '?')}",
        "overrides": lambda: (
            f"override to {getattr(row, 'decision', '?')} by {getattr(row, 'analyst', '?')}"
        ),
    }[table_of(row)]()
    return f"#{row.seq} {table_of(row)} ({detail})"
