"""Batch re-review: runs, their items (claimed by workers), policy corpus snapshots.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "batch_runs",
        sa.Column("id", sa.String(32), nullable=False),
        _when("created_at"),
        _when("finished_at", nullable=True),
        sa.Column("engine", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("prompt_version", sa.String(64), nullable=True),
        sa.Column("corpus_version", sa.String(64), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_runs")),
    )
    op.create_table(
        "batch_items",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("merchant_id", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        _when("lease_until", nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.String(32), nullable=True),
        sa.Column("decision", sa.String(20), nullable=True),
        sa.Column("previous_review_id", sa.String(32), nullable=True),
        sa.Column("previous_decision", sa.String(20), nullable=True),
        sa.Column("site_hash", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _when("finished_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["batch_runs.id"], name=op.f("fk_batch_items_run_id_batch_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "merchant_id", name=op.f("pk_batch_items")),
    )
    op.create_index(
        "ix_batch_items_run_id_status_position", "batch_items", ["run_id", "status", "position"]
    )
    op.create_table(
        "corpus_versions",
        sa.Column("version", sa.String(64), nullable=False),
        _when("created_at"),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_corpus_versions")),
    )


def downgrade() -> None:
    op.drop_index("ix_batch_items_run_id_status_position", table_name="batch_items")
    for table in ("batch_items", "batch_runs", "corpus_versions"):
        op.drop_table(table)
