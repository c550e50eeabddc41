"""Named review configurations in the database: create, list, find the champion, promote.

The first configuration created becomes the champion unless told otherwise; later ones
are challengers. Promoting a challenger demotes the champion to a challenger and is
written to the experiment log with the report that justified it, in one transaction.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from merchant_review.experiments import log
from merchant_review.experiments.schema import (
    CHALLENGER,
    CHAMPION,
    RETIRED,
    ExperimentConfigRow,
)
from merchant_review.experiments.spec import ConfigSpec
from merchant_review.storage import StorageError, Store
from merchant_review.storage.writes import now

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")


class ExperimentError(StorageError):
    """An experiment command that cannot be done (unknown name, wrong role, ...)."""


@dataclass(frozen=True)
class ReviewConfig:
    """A configuration as read from the database."""

    name: str
    role: str
    spec: ConfigSpec
    seed: str
    description: str

    @classmethod
    def of(cls, row: ExperimentConfigRow) -> ReviewConfig:
        return cls(row.name, row.role, ConfigSpec.parse(row.spec), row.seed, row.description)

    def record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "spec": self.spec.record(),
            "seed": self.seed,
            "description": self.description,
        }


def create(
    store: Store,
    name: str,
    spec: ConfigSpec,
    *,
    actor: str,
    description: str = "",
    champion: bool | None = None,
    seed: str | None = None,
) -> ReviewConfig:
    """Store a new configuration; `champion` None: champion if it is the first one."""
    if not NAME.match(name):
        raise ExperimentError(f"bad configuration name {name!r}: letters, digits, _ . : -")
    with store.write_session() as session:
        if session.get(ExperimentConfigRow, name) is not None:
            raise ExperimentError(f"a configuration named {name!r} exists already")
        current = _champion_row(session)
        if champion is None:
            champion = current is None
        if champion and current is not None:
            raise ExperimentError(
                f"{current.name!r} is the champion: create this one as a challenger and "
                "promote it with `merchant-review experiment promote`"
            )
        row = ExperimentConfigRow(
            name=name,
            created_at=now(),
            role=CHAMPION if champion else CHALLENGER,
            spec=spec.record(),
            seed=seed or secrets.token_hex(8),
            description=description,
        )
        session.add(row)
        config = ReviewConfig.of(row)
        log.append(session, "create", name, actor, config.record())
    return config


def _champion_row(session: Session) -> ExperimentConfigRow | None:
    query = select(ExperimentConfigRow).where(ExperimentConfigRow.role == CHAMPION)
    return session.scalars(query).one_or_none()


def get(store: Store, name: str) -> ReviewConfig:
    with store.session() as session:
        row = session.get(ExperimentConfigRow, name)
    if row is None:
        raise ExperimentError(f"no configuration named {name!r} (see `experiment list`)")
    return ReviewConfig.of(row)


def champion(store: Store) -> ReviewConfig | None:
    with store.session() as session:
        row = _champion_row(session)
    return ReviewConfig.of(row) if row else None


def listing(store: Store) -> list[ReviewConfig]:
    """Every configuration: the champion first, then by creation."""
    first = case((ExperimentConfigRow.role == CHAMPION, 0), else_=1)
    query = select(ExperimentConfigRow).order_by(first, ExperimentConfigRow.created_at)
    with store.session() as session:
        return [ReviewConfig.of(row) for row in session.scalars(query)]


def challenger(store: Store, name: str) -> tuple[ReviewConfig, ReviewConfig]:
    """(the challenger `name`, the champion); ExperimentError unless that is what they are."""
    config = get(store, name)
    if config.role != CHALLENGER:
        raise ExperimentError(f"{name!r} is the {config.role}, not a challenger")
    current = champion(store)
    if current is None:
        raise ExperimentError("there is no champion configuration to compare with")
    return config, current


def promote(store: Store, name: str, *, actor: str, report: dict[str, Any]) -> ReviewConfig:
    """Make challenger `name` the champion (the old one becomes a challenger), logged."""
    with store.write_session() as session:
        row = session.get(ExperimentConfigRow, name, with_for_update=True)
        if row is None or row.role != CHALLENGER:
            role = row.role if row else "unknown"
            raise ExperimentError(f"only a challenger can be promoted: {name!r} is {role}")
        old = _champion_row(session)
        if old is not None:
            old.role = CHALLENGER
            session.flush()  # the unique index allows one champion at any moment
        row.role = CHAMPION
        payload = {"previous_champion": old.name if old else None, "report": report}
        log.append(session, "promote", name, actor, payload)
    return get(store, name)


def retire(store: Store, name: str, *, actor: str, reason: str) -> ReviewConfig:
    """Stop a challenger (the sequential test said stop, or it is no longer wanted)."""
    with store.write_session() as session:
        row = session.get(ExperimentConfigRow, name, with_for_update=True)
        if row is None or row.role != CHALLENGER:
            role = row.role if row else "unknown"
            raise ExperimentError(f"only a challenger can be retired: {name!r} is {role}")
        row.role = RETIRED
        log.append(session, "retire", name, actor, {"reason": reason})
    return get(store, name)
