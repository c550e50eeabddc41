"""Which merchants a batch run reviews.

Selectors combine (every one given must hold): `--all` (no restriction), `--ids FILE`
(one merchant id a line; # comments), `--where EXPR` (filters.py), `--stale-days N` (no
real review decided in the last N days, or never reviewed), `--changed-policy-since
VERSION` (the previous review touched a rule that changed since that corpus version:
see `policy_targets`). Merchants are streamed in id order, in chunks, so a run over
millions of records never holds them all in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from merchant_review.batch import corpus as snapshots
from merchant_review.batch.filters import compile_where
from merchant_review.batch.history import PreviousReview, latest_reviews, touched_rules
from merchant_review.policy import PolicyCorpus
from merchant_review.storage import Store
from merchant_review.storage.schema import MerchantRow

CHUNK = 1000


class SelectionError(ValueError):
    """The selection cannot be made as given; the message says why."""


@dataclass(frozen=True)
class Selection:
    """The selectors of a run, as given on the command line (kept with the run)."""

    all: bool = False
    ids_file: str | None = None
    where: str | None = None
    changed_policy_since: str | None = None
    stale_days: float | None = None

    def record(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v is not False}

    def check(self) -> None:
        if not self.record():
            raise SelectionError(
                "select merchants: --all, --ids FILE, --where EXPR, "
                "--changed-policy-since VERSION or --stale-days N"
            )


def read_ids(path: Path) -> list[str]:
    """Merchant ids of a file, one a line (blank lines and # comments skipped), deduplicated."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SelectionError(f"cannot read {path}: {exc}") from exc
    ids = (line.split("#", 1)[0].strip() for line in lines)
    return list(dict.fromkeys(i for i in ids if i))


def _check_known(session: Session, ids: list[str]) -> None:
    missing: list[str] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        known = set(
            session.scalars(
                select(MerchantRow.merchant_id).where(MerchantRow.merchant_id.in_(chunk))
            )
        )
        missing += [i for i in chunk if i not in known]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise SelectionError(f"{len(missing)} id(s) not in the records database: {shown}")


def _base(selection: Selection) -> Select[str]:
    query = select(MerchantRow.merchant_id).order_by(MerchantRow.merchant_id)
    if selection.where:
        query = query.where(compile_where(selection.where))
    return query


def _candidates(session: Session, selection: Selection) -> Iterator[list[str]]:
    """Chunks of merchant ids meeting --all/--ids/--where, in id order."""
    query = _base(selection)
    if selection.ids_file is None:
        after = ""
        while chunk := list(
            session.scalars(query.where(MerchantRow.merchant_id > after).limit(CHUNK))
        ):
            yield chunk
            after = chunk[-1]
        return
    ids = sorted(read_ids(Path(selection.ids_file)))
    _check_known(session, ids)
    for start in range(0, len(ids), CHUNK):
        wanted = ids[start : start + CHUNK]
        yield list(session.scalars(query.where(MerchantRow.merchant_id.in_(wanted))))


@dataclass(frozen=True)
class PolicyTarget:
    """The rule changes a --changed-policy-since selection looks for."""

    changes: snapshots.RuleChanges
    current_version: str

    def touches(self, session: Session, previous: list[PreviousReview]) -> set[str]:
        """Merchants whose previous review (under an older corpus) touched a changed rule."""
        older = [p for p in previous if p.corpus_version != self.current_version]
        touched = touched_rules(session, [p.review_id for p in older])
        added = {c.value for c in self.changes.added_categories}
        return {
            p.merchant_id
            for p in older
            if touched[p.review_id].rule_ids & self.changes.touched_ids
            or touched[p.review_id].categories & added
        }


def policy_target(store: Store, version: str, corpus: PolicyCorpus) -> PolicyTarget:
    """Diff the stored snapshot of `version` against the current corpus."""
    changes = snapshots.diff(snapshots.stored_rules(store, version), snapshots.snapshot(corpus))
    return PolicyTarget(changes, corpus.version)


def _keep(
    session: Session, chunk: list[str], selection: Selection, target: PolicyTarget | None
) -> list[str]:
    if selection.stale_days is None and target is None:
        return chunk
    latest = latest_reviews(session, chunk)
    keep = set(chunk)
    if selection.stale_days is not None:
        cutoff = datetime.now(UTC) - timedelta(days=selection.stale_days)
        keep &= {m for m in chunk if m not in latest or latest[m].started_at < cutoff}
    if target is not None:
        keep &= target.touches(session, [latest[m] for m in chunk if m in latest])
    return [m for m in chunk if m in keep]


def select_merchants(
    store: Store, selection: Selection, target: PolicyTarget | None = None
) -> Iterator[str]:
    """Merchant ids the selection picks, in id order (`target`: for --changed-policy-since)."""
    selection.check()
    with store.session() as session:
        for chunk in _candidates(session, selection):
            yield from _keep(session, chunk, selection, target)
