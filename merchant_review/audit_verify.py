"""`merchant-review audit verify`: recompute every hash chain and report what broke.

Checks, per review: each record's field hashes against its content (naming the columns
that changed), its row hash, its place (#seq) and link to the record before it, that the
review row opens the chain and nothing but overrides follows the verdict, the chain head
(length and last hash: records deleted from or appended to the end), and every fetched
page's content blob against its sha256. Then the ledger: positions, entry hashes, links,
that each entry's record exists unchanged, that every review start, verdict and override
has its entry, and the ledger head.

Per chain, the first broken link is reported (what follows it cannot be trusted anyway).
With `since`, only reviews started and ledger entries made from then on are checked; the
link into the earlier ledger is checked against the stored hash of the entry before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from merchant_review.chain import describe, entry_hash, record_problem
from merchant_review.storage import Store
from merchant_review.storage.blobs import intact
from merchant_review.storage.schema import (
    CHAINED_TABLES,
    LEDGER_CHAIN,
    Chained,
    ChainHeadRow,
    LedgerRow,
    OverrideRow,
    PageBlobRow,
    PageRow,
    ReviewRow,
    VerdictRow,
)

SEALED = (ReviewRow, VerdictRow, OverrideRow)  # the records the ledger holds an entry for
BATCH = 200


@dataclass(frozen=True)
class Problem:
    chain: str  # "review ID" or "ledger"
    record: str  # which record (see chain.describe)
    what: str  # what is wrong with it

    def __str__(self) -> str:
        return f"{self.chain}: {self.record}: {self.what}"


@dataclass
class VerifyReport:
    since: datetime | None = None
    reviews: int = 0
    records: int = 0
    blobs: int = 0
    ledger_entries: int = 0
    head: tuple[int, str] = (0, "")
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Seen:
    """What the review pass leaves for the ledger pass."""

    reviews: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)  # already reported: not checked again
    sealed: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)  # -> hash, name
    blobs: set[str] = field(default_factory=set)


def verify_audit_log(store: Store, *, since: datetime | None = None) -> VerifyReport:
    """Check the whole audit log (or what was written since `since`)."""
    report, seen = VerifyReport(since=since), _Seen()
    for ids in _review_batches(store, since):
        with store.session() as session:
            _check_reviews(session, ids, report, seen)
    with store.session() as session:
        _check_ledger(session, since, report, seen)
    return report


# -- reviews -------------------------------------------------------------------------------


def _review_batches(store: Store, since: datetime | None) -> Iterator[list[str]]:
    """Review ids in the order they started, a batch at a time (keyset pagination)."""
    after: tuple[datetime, str] | None = None
    while True:
        query = select(ReviewRow.started_at, ReviewRow.id)
        if since is not None:
            query = query.where(ReviewRow.started_at >= since)
        if after is not None:
            query = query.where(tuple_(ReviewRow.started_at, ReviewRow.id) > after)
        with store.session() as session:
            rows = session.execute(query.order_by(ReviewRow.started_at, ReviewRow.id).limit(BATCH))
            batch = [(started, review_id) for started, review_id in rows]
        if not batch:
            return
        yield [review_id for _, review_id in batch]
        after = batch[-1]


def _chains(session: Session, ids: list[str]) -> dict[str, list[Chained]]:
    chains: dict[str, list[Chained]] = defaultdict(list)
    for table in CHAINED_TABLES:  # sorted() below is stable: ties keep this table order
        for row in session.scalars(select(table).where(table.review_id.in_(ids))):
            chains[row.review_id].append(row)
    return {review_id: sorted(rows, key=lambda r: r.seq) for review_id, rows in chains.items()}


def _check_reviews(session: Session, ids: list[str], report: VerifyReport, seen: _Seen) -> None:
    chains = _chains(session, ids)
    heads = {
        h.chain_id: h
        for h in session.scalars(select(ChainHeadRow).where(ChainHeadRow.chain_id.in_(ids)))
    }
    pages: list[tuple[str, PageRow]] = []
    for review_id in ids:
        rows = chains.get(review_id, [])
        report.reviews += 1
        report.records += len(rows)
        seen.reviews.add(review_id)
        problem = _review_problem(review_id, rows, heads.get(review_id))
        if problem is not None:
            report.problems.append(problem)
            seen.broken.add(review_id)
            continue
        for row in rows:
            if isinstance(row, SEALED):
                seen.sealed[(review_id, row.seq)] = (row.row_hash, describe(row))
            if isinstance(row, PageRow):
                pages.append((review_id, row))
    _check_blobs(session, pages, report, seen)


def _review_problem(
    review_id: str, rows: list[Chained], head: ChainHeadRow | None
) -> Problem | None:
    chain = f"review {review_id}"
    prev, sealed_by_verdict = "", False
    for expected, row in enumerate(rows):
        what = record_problem(row, expected, prev) or _placement_problem(row, sealed_by_verdict)
        if what is not None:
            return Problem(chain, describe(row), what)
        prev, sealed_by_verdict = row.row_hash, sealed_by_verdict or isinstance(row, VerdictRow)
    return _head_problem(chain, len(rows), prev, head)


def _placement_problem(row: Chained, after_verdict: bool) -> str | None:
    if (row.seq == 0) != isinstance(row, ReviewRow):
        return "the chain must open with the review row, and only with it"
    if after_verdict and not isinstance(row, OverrideRow):
        return "written after the verdict sealed the review (only overrides may follow it)"
    return None


def _head_problem(chain: str, length: int, last: str, head: ChainHeadRow | None) -> Problem | None:
    if head is None:
        return Problem(chain, "chain head", "missing: the review's chain head row was deleted")
    if head.length > length:
        what = f"records {length}..{head.length - 1} at the end were deleted"
    elif head.length < length:
        what = f"{length - head.length} record(s) were appended outside the store"
    elif head.head_hash != last:
        what = "the last record is not the one the chain head recorded (replaced)"
    else:
        return None
    return Problem(chain, f"chain head ({head.length} records)", what)


def _check_blobs(
    session: Session, pages: list[tuple[str, PageRow]], report: VerifyReport, seen: _Seen
) -> None:
    wanted = {page.content_sha256 for _, page in pages} - seen.blobs
    found = {
        blob.sha256: intact(blob.sha256, blob.codec, blob.data)
        for blob in session.scalars(select(PageBlobRow).where(PageBlobRow.sha256.in_(wanted)))
    }
    report.blobs += len(found)
    seen.blobs |= {sha for sha, ok in found.items() if ok}
    for review_id, page in pages:
        if page.content_sha256 in seen.blobs:
            continue
        what = (
            "its stored content was altered (the blob no longer matches its sha256)"
            if page.content_sha256 in found
            else "its stored content (page blob) is missing"
        )
        report.problems.append(Problem(f"review {review_id}", describe(page), what))


# -- the ledger ----------------------------------------------------------------------------


def _ledger_start(session: Session, since: datetime | None) -> tuple[int, str] | None:
    """(first position to check, the entry hash it must link to); None: nothing to check."""
    if since is None:
        return 1, ""
    first = session.scalar(
        select(LedgerRow.position)
        .where(LedgerRow.created_at >= since)
        .order_by(LedgerRow.position)
        .limit(1)
    )
    if first is None:
        return None
    before = session.get(LedgerRow, first - 1) if first > 1 else None
    return first, before.entry_hash if before else ""


def _entries(session: Session, start: int) -> Iterator[LedgerRow]:
    position = start
    while True:
        query = select(LedgerRow).where(LedgerRow.position >= position)
        batch = list(session.scalars(query.order_by(LedgerRow.position).limit(BATCH)))
        yield from batch
        if len(batch) < BATCH:
            return
        position = batch[-1].position + 1


def _check_ledger(
    session: Session, since: datetime | None, report: VerifyReport, seen: _Seen
) -> None:
    start = _ledger_start(session, since)
    if start is None:  # nothing written since then
        head = session.get(ChainHeadRow, LEDGER_CHAIN)
        report.head = (head.length, head.head_hash) if head else (0, "")
        return
    expected, prev = start
    unseen: set[str] = set()
    for entry in _entries(session, expected):
        what = _entry_problem(entry, expected, prev, seen, unseen)
        if what is not None:
            report.problems.append(Problem("ledger", f"entry #{expected}", what))
            break
        report.ledger_entries += 1
        expected, prev = expected + 1, entry.entry_hash
    else:
        _ledger_head_problem(session, expected - 1, prev, report)
        for (review_id, _seq), (_hash, name) in seen.sealed.items():
            report.problems.append(
                Problem(
                    f"review {review_id}", name, "has no ledger entry (written outside the store)"
                )
            )
    _missing_reviews(session, unseen, report)


def _entry_problem(
    entry: LedgerRow, expected: int, prev: str, seen: _Seen, unseen: set[str]
) -> str | None:
    if entry.position != expected:
        return f"entries #{expected}..{entry.position - 1} are missing (deleted)"
    if entry_hash(entry) != entry.entry_hash:
        return "its content changed since it was written"
    if entry.prev_hash != prev:
        return "does not link to the entry before it (an entry was replaced or reordered)"
    if entry.review_id not in seen.reviews:
        unseen.add(entry.review_id)
        return None
    if entry.review_id in seen.broken:
        return None
    record = seen.sealed.pop((entry.review_id, entry.record_seq), None)
    if record is None:
        return f"record #{entry.record_seq} of review {entry.review_id} it seals is missing"
    if record[0] != entry.record_hash:
        return f"record #{entry.record_seq} of review {entry.review_id} is not the one it sealed"
    return None


def _ledger_head_problem(session: Session, length: int, last: str, report: VerifyReport) -> None:
    head = session.get(ChainHeadRow, LEDGER_CHAIN)
    report.head = (head.length, head.head_hash) if head else (0, "")
    problem = _head_problem("ledger", length, last, head)
    if problem is not None:
        report.problems.append(problem)


def _missing_reviews(session: Session, review_ids: set[str], report: VerifyReport) -> None:
    """Reviews the ledger names that were not checked: fine if older than `since`, if present."""
    ids = sorted(review_ids)
    for i in range(0, len(ids), BATCH):
        chunk = ids[i : i + BATCH]
        present = set(session.scalars(select(ReviewRow.id).where(ReviewRow.id.in_(chunk))))
        for review_id in sorted(set(chunk) - present):
            report.problems.append(
                Problem(f"review {review_id}", "#0 reviews", "the review row was deleted")
            )
