"""The experiment tables, on the storage package's metadata (migration r0004).

`experiment_configs` is mutable on purpose: a configuration's role changes when one is
promoted. Every such change is also written to `experiment_log`, which is append-only and
hash-chained like the audit log (chain id "experiments" in chain_heads), so the history
of who was champion when, and on what evidence, cannot be rewritten unnoticed.
`shadow_reviews` is append-only: one row per challenger review, naming the champion
review it shadows (the challenger's own review chain records the same link, see shadow.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, PrimaryKeyConstraint, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from merchant_review.storage.schema import Base, Chained, Timestamp

CHAMPION = "champion"
CHALLENGER = "challenger"
RETIRED = "retired"
ROLES = (CHAMPION, CHALLENGER, RETIRED)
EXPERIMENT_CHAIN = "experiments"  # chain_heads row of experiment_log (made by the migration)
SHADOW_TRIGGER = "shadow"  # ReviewRow.trigger of a challenger's review: it never acts


class ExperimentConfigRow(Base):
    """A named review configuration; at most one is the champion (partial unique index)."""

    __tablename__ = "experiment_configs"
    __table_args__ = (
        Index(
            "uq_experiment_configs_champion",
            "role",
            unique=True,
            sqlite_where=text("role = 'champion'"),
            postgresql_where=text("role = 'champion'"),
        ),
    )

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    role: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # spec.ConfigSpec, as JSON
    seed: Mapped[str] = mapped_column(String(64))  # of the per-merchant shadow assignment
    description: Mapped[str] = mapped_column(Text)


class ShadowReviewRow(Base):
    """A challenger's review of a merchant, beside the champion review it shadows."""

    __tablename__ = "shadow_reviews"

    challenger_review_id: Mapped[str] = mapped_column(ForeignKey("reviews.id"), primary_key=True)
    champion_review_id: Mapped[str] = mapped_column(ForeignKey("reviews.id"), index=True)
    config: Mapped[str] = mapped_column(String(100), index=True)
    merchant_id: Mapped[str] = mapped_column(String(200))
    batch_run_id: Mapped[str | None] = mapped_column(String(64))
    share: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(Timestamp())


class ExperimentLogRow(Chained, Base):
    """One entry of the experiment history: a configuration created, promoted."""

    __tablename__ = "experiment_log"
    __table_args__ = (PrimaryKeyConstraint("seq"),)
    CHAINED = ("seq", "kind", "config", "actor", "payload", "created_at")

    kind: Mapped[str] = mapped_column(String(20))
    config: Mapped[str] = mapped_column(String(100), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp())


APPEND_ONLY_TABLES = ("shadow_reviews", "experiment_log")
