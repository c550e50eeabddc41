"""Per-review state a Store keeps between writes: scrubbers, and records not yet written.

Scrubbers: every audit write scrubs the merchant's personal data with a Scrubber built
from the merchant's record. Building it means reading the review and merchant rows and
compiling a regex, so the Store builds it once, when the review starts, and keeps it here
(least recently used first out; a miss just reads the rows again). Re-importing merchants
through the Store drops them all, so its later writes use the new records.

Deferred records: a step that did no I/O of its own (retrieving rules, verifying
citations, deciding) need not cost a write transaction of its own. Its record waits here
and goes into the review's next write, in the same transaction and ahead of that write's
own records, so the chain order is the order things happened. The review graph writes
them out (`Store.flush`) after and before every step that waits on the network and when
the review ends, however it ends (agent/graph.py, merchant_review/review.py): a record
waits in memory only while the review is running CPU-bound steps.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy.orm import Session

from merchant_review.storage.privacy import Scrubber
from merchant_review.storage.schema import Chained

# Builds the records to append, inside the write transaction, with the review's scrubber.
RowMaker = Callable[[Session, Scrubber], list[Chained]]

MAX_SCRUBBERS = 4096  # reviews in flight at once in one process is far below this


class ReviewCache:
    """Scrubbers and deferred records by review id; safe to share between threads."""

    def __init__(self, max_scrubbers: int = MAX_SCRUBBERS) -> None:
        self._lock = threading.Lock()
        self._scrubbers: OrderedDict[str, Scrubber] = OrderedDict()
        self._pending: dict[str, list[RowMaker]] = {}
        self._max = max_scrubbers

    def scrubber(self, review_id: str) -> Scrubber | None:
        with self._lock:
            scrub = self._scrubbers.get(review_id)
            if scrub is not None:
                self._scrubbers.move_to_end(review_id)
            return scrub

    def keep_scrubber(self, review_id: str, scrub: Scrubber) -> None:
        with self._lock:
            self._scrubbers[review_id] = scrub
            self._scrubbers.move_to_end(review_id)
            while len(self._scrubbers) > self._max:
                self._scrubbers.popitem(last=False)

    def forget_scrubbers(self) -> None:
        with self._lock:
            self._scrubbers.clear()

    def forget(self, review_id: str) -> None:
        """The review is sealed: nothing more will be written for it by this process."""
        with self._lock:
            self._scrubbers.pop(review_id, None)

    def defer(self, review_id: str, maker: RowMaker) -> None:
        with self._lock:
            self._pending.setdefault(review_id, []).append(maker)

    def take(self, review_id: str) -> list[RowMaker]:
        """The review's deferred records, oldest first; they are no longer held here."""
        with self._lock:
            return self._pending.pop(review_id, [])

    def give_back(self, review_id: str, makers: list[RowMaker]) -> None:
        """Records whose write failed: held again, ahead of any deferred meanwhile."""
        if makers:
            with self._lock:
                self._pending[review_id] = [*makers, *self._pending.get(review_id, [])]

    def has_pending(self, review_id: str) -> bool:
        with self._lock:
            return bool(self._pending.get(review_id))
