"""The SQL store: merchant records and the tamper-evident audit log (SQLAlchemy 2 + Alembic).

    from merchant_review.storage import Store, ReviewAudit, StoredReview, StorageError

One database URL chooses SQLite (the embedded default) or PostgreSQL (production); the
code is the same. Modules:

- `store`   the Store: merchant records; audit writes (start_review, record_event,
            save_crawl, save_pages, finish_review, add_override) and reads (get_review,
            list_reviews, prior_reviews, overridden_review_ids, ledger_head)
- `reads`   StoredReview: a review read back, with page snapshots and the final decision
- `schema`  the tables; `migrate` Alembic migrations and the rule for opening a database
- `rows`    audit records built from what the graph reports (scrubbed)
- `writes`  appending to hash chains under a lock; `blobs` compressed page content
- `pending` per-review scrubbers and deferred records (a CPU-only step rides with the
            review's next write: defer_event, defer_crawl, flush)
- `overrides` which decision stands, and the rules an analyst's label must obey
- `privacy` scrubbing merchant personal data; `engine` SQLite/PostgreSQL engines
- `errors`  StorageError and its kinds
"""

from merchant_review.storage.errors import InvalidOverride, StorageError, UnknownReview
from merchant_review.storage.reads import StoredReview
from merchant_review.storage.store import ReviewAudit, Store

__all__ = [
    "InvalidOverride",
    "ReviewAudit",
    "StorageError",
    "Store",
    "StoredReview",
    "UnknownReview",
]
