"""The audit log: merchant records, hash-chained review records, page blobs, the ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

APPEND_ONLY = (
    "reviews", "crawls", "review_events", "page_blobs", "fetched_pages", "verdicts",
    "overrides", "audit_ledger",
)  # fmt: skip


def _chain() -> list[sa.Column[object]]:
    return [
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("field_hashes", sa.JSON(), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
    ]


def _review_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["review_id"], ["reviews.id"], name=op.f(f"fk_{table}_review_id_reviews")
    )


def _record_table(name: str, *columns: sa.Column[object] | sa.Constraint) -> None:
    """A table of review-chain records: keyed by (review_id, seq)."""
    op.create_table(
        name,
        sa.Column("review_id", sa.String(32), nullable=False),
        *columns,
        *_chain(),
        _review_fk(name),
        sa.PrimaryKeyConstraint("review_id", "seq", name=op.f(f"pk_{name}")),
    )


def _tables() -> None:
    op.create_table(
        "chain_heads",
        sa.Column("chain_id", sa.String(64), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_chain_heads")),
    )
    op.create_table(
        "merchants",
        sa.Column("merchant_id", sa.String(200), nullable=False),
        sa.Column("website", sa.Text(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_merchants")),
    )
    op.create_table(
        "page_blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("codec", sa.String(16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_page_blobs")),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("merchant_id", sa.String(200), nullable=True),
        sa.Column("website", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("engine", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("prompt_version", sa.String(64), nullable=True),
        sa.Column("corpus_version", sa.String(64), nullable=False),
        sa.Column("settings_hash", sa.String(64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=True),
        sa.Column("record_hash", sa.String(64), nullable=True),
        sa.Column("record", sa.JSON(), nullable=True),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("eval_run_id", sa.String(64), nullable=True),
        sa.Column("batch_run_id", sa.String(64), nullable=True),
        sa.Column("replay_of", sa.String(32), nullable=True),
        *_chain(),
        sa.ForeignKeyConstraint(
            ["replay_of"], ["reviews.id"], name=op.f("fk_reviews_replay_of_reviews")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_table(
        "audit_ledger",
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("review_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("record_seq", sa.Integer(), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        _review_fk("audit_ledger"),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_audit_ledger")),
    )
    _record_table(
        "crawls",
        sa.Column("start_url", sa.Text(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    _record_table(
        "fetched_pages",
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("requested_url", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(200), nullable=True),
        sa.Column("raw_sha256", sa.String(64), nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("found_via", sa.String(20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_sha256"],
            ["page_blobs.sha256"],
            name=op.f("fk_fetched_pages_content_sha256_page_blobs"),
        ),
    )
    _record_table(
        "overrides",
        sa.Column("corrects_seq", sa.Integer(), nullable=False),
        sa.Column("analyst", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    _record_table(
        "review_events",
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    _record_table(
        "verdicts",
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.UniqueConstraint("review_id", name=op.f("uq_verdicts_review_id")),
    )


INDEXES = {
    "reviews": ["batch_run_id", "eval_run_id", "merchant_id", "replay_of", "started_at"],
    "audit_ledger": ["created_at", "review_id"],
    "fetched_pages": ["content_sha256"],
    "verdicts": ["decision"],
}


def _append_only_triggers() -> None:
    """The database itself refuses UPDATE and DELETE on audit tables."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
            )
        return
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def upgrade() -> None:
    _tables()
    for table, columns in INDEXES.items():
        for column in columns:
            op.create_index(op.f(f"ix_{table}_{column}"), table, [column])
    _append_only_triggers()
    heads = sa.table("chain_heads", sa.column("chain_id"), sa.column("length"),
                     sa.column("head_hash"))  # fmt: skip
    op.bulk_insert(heads, [{"chain_id": "ledger", "length": 0, "head_hash": ""}])


def downgrade() -> None:
    for table in (
        "verdicts", "review_events", "overrides", "fetched_pages", "crawls", "audit_ledger",
        "reviews", "page_blobs", "merchants", "chain_heads",
    ):  # fmt: skip
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_append_only()")
