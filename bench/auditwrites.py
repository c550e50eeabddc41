"""CPU and wall time of one review's audit writes alone (no crawl, no assessor).

    .venv/bin/python -m bench.auditwrites [--reviews 200] [--database-url URL]

Writes reviews the way the review graph does for an LLM review without its model call:
start, a 6-page crawl with its step, the retrieval step (before the assessment), the
assessment's step (after it), then verification, decision and the verdict together.
SQLite in a temp dir unless --database-url is given. Merchant, pages and verdict are the
audit tests' (tests/auditdata.py).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from merchant_review.audit import AuditEvent, EventKind
from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.storage import Store
from tests.auditdata import MERCHANT, start, verdict_for

PAGES = [
    PageSnapshot(
        url=f"https://shop.example/p{i}",
        requested_url=f"https://shop.example/p{i}",
        status=200,
        content_type="text/html",
        title=f"Page {i}",
        text="Books, notebooks and pens for every desk. " * 70 + str(i),
        raw_sha256="a" * 64,
        bytes=3000,
    )
    for i in range(6)
]


def step(name: str) -> AuditEvent:
    summary = {"website": MERCHANT.website, "keys": ["merchant", "pages", "website"]}
    return AuditEvent(EventKind.STEP, name, summary, {"pages": "6 items"}, latency_ms=1.0)


def write_review(store: Store) -> None:
    review_id = start(store)
    store.defer_crawl(review_id, CrawlReport(start_url=MERCHANT.website, pages=PAGES))
    store.defer_event(review_id, step("crawl_website"))
    store.flush(review_id)
    store.defer_event(review_id, step("retrieve_rules"))
    store.flush(review_id)
    store.defer_event(review_id, step("assess"))
    store.flush(review_id)
    store.defer_event(review_id, step("verify_citations"))
    store.defer_event(review_id, step("decide"))
    store.finish_review(review_id, verdict_for(review_id))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reviews", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mr-bench-") as tmp:
        store = Store(args.database_url or f"sqlite:///{tmp}/audit.db")
        store.import_merchants([MERCHANT])
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.reviews):
            write_review(store)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        store.close()
    print(
        f"audit writes of {args.reviews} reviews: {1000 * cpu / args.reviews:.1f} ms CPU, "
        f"{1000 * wall / args.reviews:.1f} ms wall per review"
    )


if __name__ == "__main__":
    main()
