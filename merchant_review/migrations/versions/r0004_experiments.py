"""Experiments: named review configurations, shadow reviews, the experiment log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

APPEND_ONLY = ("shadow_reviews", "experiment_log")


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _tables() -> None:
    op.create_table(
        "experiment_configs",
        sa.Column("name", sa.String(100), nullable=False),
        _when("created_at"),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_experiment_configs")),
    )
    op.create_index(
        "uq_experiment_configs_champion",
        "experiment_configs",
        ["role"],
        unique=True,
        sqlite_where=sa.text("role = 'champion'"),
        postgresql_where=sa.text("role = 'champion'"),
    )
    op.create_table(
        "shadow_reviews",
        sa.Column("challenger_review_id", sa.String(32), nullable=False),
        sa.Column("champion_review_id", sa.String(32), nullable=False),
        sa.Column("config", sa.String(100), nullable=False),
        sa.Column("merchant_id", sa.String(200), nullable=False),
        sa.Column("batch_run_id", sa.String(64), nullable=True),
        sa.Column("share", sa.Float(), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(
            ["challenger_review_id"],
            ["reviews.id"],
            name=op.f("fk_shadow_reviews_challenger_review_id_reviews"),
        ),
        sa.ForeignKeyConstraint(
            ["champion_review_id"],
            ["reviews.id"],
            name=op.f("fk_shadow_reviews_champion_review_id_reviews"),
        ),
        sa.PrimaryKeyConstraint("challenger_review_id", name=op.f("pk_shadow_reviews")),
    )
    op.create_index(
        op.f("ix_shadow_reviews_champion_review_id"), "shadow_reviews", ["champion_review_id"]
    )
    op.create_index(op.f("ix_shadow_reviews_config"), "shadow_reviews", ["config"])
    op.create_table(
        "experiment_log",
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("config", sa.String(100), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _when("created_at"),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("field_hashes", sa.JSON(), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_experiment_log")),
    )
    op.create_index(op.f("ix_experiment_log_config"), "experiment_log", ["config"])


def _append_only_triggers() -> None:
    """As for the audit tables (r0001): the database refuses UPDATE and DELETE."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY:
        if postgres:  # audit_append_only() was made by r0001
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
            )
            continue
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def upgrade() -> None:
    _tables()
    _append_only_triggers()
    heads = sa.table("chain_heads", sa.column("chain_id"), sa.column("length"),
                     sa.column("head_hash"))  # fmt: skip
    op.bulk_insert(heads, [{"chain_id": "experiments", "length": 0, "head_hash": ""}])


def downgrade() -> None:
    op.execute("DELETE FROM chain_heads WHERE chain_id = 'experiments'")
    for table in ("experiment_log", "shadow_reviews", "experiment_configs"):
        op.drop_table(table)
