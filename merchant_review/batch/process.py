"""Reviewing one claimed batch item: the same steps on a laptop and on a Celery worker.

    settle what an earlier claimer left (orphans.py) → previous review → unchanged? carry
    it forward (incremental.py) : review the merchant → finish the item (fenced by the claim)

An `ItemProcessor` holds one Reviewer (HTTP client, assessor, corpus) for many items, and
refuses to work on a run made with other versions than its own (engine, model, prompt,
corpus): a run's verdicts all come from one configuration.
"""

from __future__ import annotations

import logging
import os
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from merchant_review.batch import incremental, orphans, runs
from merchant_review.batch.history import PreviousReview, previous_review
from merchant_review.batch.runs import Claim, Outcome
from merchant_review.batch.schema import CARRIED, FAILED, REVIEWED, BatchRunRow
from merchant_review.experiments.shadow import ShadowRunner
from merchant_review.policy import PolicyCorpus, load_corpus
from merchant_review.records import MerchantRecord
from merchant_review.review import Reviewer, ReviewInputError, build_assessor, validate_website
from merchant_review.settings import CrawlSettings, Settings
from merchant_review.storage import Store
from merchant_review.storage.reads import merchant_record

if TYPE_CHECKING:
    from agent.assessor import Assessor
    from merchant_review.pages import CrawlReport

log = logging.getLogger(__name__)
FAULT_EXIT_CODE = 86  # the exit status of a process killed by fault injection


class VersionMismatch(Exception):
    """This process would review with other versions than the run recorded."""


class _Pages(incremental.Prefetched):
    """The review's page source; with fault injection armed, the process dies here."""

    def __init__(self, exit_after_claims: int | None) -> None:
        super().__init__()
        self.exit_after = exit_after_claims
        self.claims = 0

    def claimed(self) -> None:
        self.claims += 1

    async def crawl(
        self, website: str, settings: CrawlSettings, client: httpx.AsyncClient
    ) -> CrawlReport:
        if self.exit_after is not None and self.claims >= self.exit_after:
            log.warning("fault injection: exiting mid-review (claim %d)", self.claims)
            os._exit(FAULT_EXIT_CODE)
        return await super().crawl(website, settings, client)


def check_versions(run: BatchRunRow, versions: incremental.Versions) -> None:
    """Refuse to review a run's items with other versions than the run's."""
    mine = versions.record()
    theirs = {key: getattr(run, key) for key in mine}
    if mine != theirs:
        differ = [f"{k}: run {theirs[k]!r}, here {mine[k]!r}" for k in mine if mine[k] != theirs[k]]
        raise VersionMismatch(
            f"batch run {run.id} was started with other versions ({'; '.join(differ)})"
        )


class ItemProcessor:
    """Reviews claimed items of one run; use as an async context manager."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        run: BatchRunRow,
        *,
        assessor: Assessor | None = None,
        corpus: PolicyCorpus | None = None,
        force: bool = False,
    ) -> None:
        self.settings = settings
        self.store = store
        self.run = run
        self.force = force
        self.corpus = corpus or load_corpus(settings.policy_dir)
        self.assessor = assessor or build_assessor(settings)
        self.versions = incremental.current_versions(
            settings,
            self.assessor.engine,
            getattr(self.assessor, "prompt_version", None),
            self.corpus.version,
        )
        self.pages = _Pages(settings.batch.fault_exit_after_claims)
        # A shadowed run (experiments/shadow.py): a challenger also reviews some merchants.
        self.shadow = ShadowRunner.for_run(settings, store, run)
        self._client: httpx.AsyncClient | None = None
        self._reviewer: Reviewer | None = None

    async def __aenter__(self) -> ItemProcessor:
        from tools.crawler import make_client

        check_versions(self.run, self.versions)
        self._client = make_client(self.settings.crawl)
        self._reviewer = Reviewer(
            self.settings,
            self.store,
            assessor=self.assessor,
            corpus=self.corpus,
            trigger="batch",
            batch_run_id=self.run.id,
            page_source=self.pages,
            http_client=self._client,
        )
        await self._reviewer.__aenter__()
        if self.shadow is not None:
            await self.shadow.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reviewer is not None:
            await self._reviewer.__aexit__(exc_type, exc, tb)
        if self.shadow is not None:
            await self.shadow.__aexit__(exc_type, exc, tb)
        if self._client is not None:
            await self._client.aclose()
        self._reviewer = self._client = None

    async def process(self, claim: Claim) -> Outcome:
        """Review (or carry forward) one claimed item, finish it; returns how it ended."""
        self.pages.claimed()
        try:
            outcome = await self._outcome(claim)
        except ReviewInputError as exc:  # a bad record does not get better by retrying
            outcome = Outcome(status=FAILED, error=str(exc))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("batch item %s failed: %s", claim.merchant_id, error)
            status = runs.give_back(self.store, claim, error, self.settings.batch.max_failures)
            return Outcome(status=status, error=error)
        if not runs.complete(self.store, claim, outcome):
            log.warning("batch item %s: claim lost before it finished", claim.merchant_id)
            return Outcome(status="lost")
        if self.shadow is not None:  # after the item is final: the challenger never acts
            await self.shadow.follow(claim.merchant_id, outcome)
        return outcome

    async def _outcome(self, claim: Claim) -> Outcome:
        with self.store.session() as session:  # one read transaction for both
            record = merchant_record(session, claim.merchant_id)
            previous = previous_review(session, claim.merchant_id, exclude_run=self.run.id)
        if record is None:
            raise ReviewInputError(f"merchant {claim.merchant_id!r} is not in the records database")
        before = {
            "previous_review_id": previous.review_id if previous else None,
            "previous_decision": previous.decision if previous else None,
        }
        if claim.attempts > 1 and (
            adopted := orphans.settle(self.store, self.run.id, claim.merchant_id)
        ):
            return self._adopt(adopted, before)
        website = validate_website(record.website)
        site_hash = None
        if previous and not self.force and incremental.may_carry(previous, self.versions, record):
            unchanged, site_hash = await self._crawl_ahead(website, previous)
            if unchanged:
                return Outcome(
                    status=CARRIED,
                    review_id=previous.review_id,
                    decision=previous.decision,
                    site_hash=site_hash,
                    **before,
                )
        return await self._review(record, website, site_hash, before)

    def _adopt(self, review_id: str, before: dict[str, str | None]) -> Outcome:
        """Finish the item with a review an earlier claimer completed."""
        stored = self.store.get_review(review_id)
        decision = stored.verdict.decision if stored and stored.verdict else None
        return Outcome(status=REVIEWED, review_id=review_id, decision=decision, **before)

    async def _crawl_ahead(self, website: str, previous: PreviousReview) -> tuple[bool, str]:
        """Crawl now: whether the site is as the previous review saw it, and its hash.

        A changed site's crawl is handed to the review (no second crawl).
        """
        report = await self._crawl(website)
        site_hash = incremental.site_hash(report.pages)
        if site_hash == incremental.stored_site_hash(self.store, previous.review_id):
            return True, site_hash
        self.pages.put(report, website)
        return False, site_hash

    async def _review(
        self,
        record: MerchantRecord,
        website: str,
        site_hash: str | None,
        before: dict[str, str | None],
    ) -> Outcome:
        assert self._reviewer is not None, "use `async with ItemProcessor(...)`"
        try:
            verdict = await self._reviewer.review_record(record)  # not read a second time
        finally:
            self.pages.discard(website)
        return Outcome(
            status=REVIEWED,
            review_id=verdict.review_id,
            decision=verdict.decision.value,
            site_hash=site_hash,
            error=verdict.error,
            **before,
        )

    async def _crawl(self, website: str) -> CrawlReport:
        from tools.crawler import crawl_site

        return await crawl_site(website, self.settings.crawl, client=self._client)
