"""Shadow mode: a challenger reviews a seeded share of the merchants the champion reviews.

In a batch run with a shadow plan (`batch --shadow CONFIG --share 0.2`, or the
MERCHANT_REVIEW_EXPERIMENT__SHADOW / __SHARE settings), the run reviews with the
champion's configuration, and after each item that has a champion review, the merchants
the assignment (assign.py) puts in the share are reviewed again by the challenger:

- on the same evidence: the champion review's stored crawl (no second crawl, so the two
  verdicts differ by judgement, not by a site that changed in between), and the prior
  reviews the champion saw (none written after it started);
- as a review of its own in the audit log, with trigger "shadow" and, as its first record
  after the review row, a `shadow_of` step naming the champion review; `shadow_reviews`
  indexes the pair for reports.

The challenger never acts: the item's outcome (its verdict, the batch's changes, what
carries forward next time) is the champion's, fixed before the challenger starts, and
every query for a merchant's current, previous or prior verdict leaves shadow reviews out
(storage.schema.NON_ACTING_TRIGGERS). A challenger failure is logged and never fails the
item.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from merchant_review.audit import AuditEvent, EventKind
from merchant_review.experiments import configs
from merchant_review.experiments.assign import assigned
from merchant_review.experiments.schema import SHADOW_TRIGGER, ShadowReviewRow
from merchant_review.experiments.spec import ConfigSpec
from merchant_review.pages import CrawlReport
from merchant_review.policy import load_corpus
from merchant_review.review import Reviewer, build_assessor
from merchant_review.settings import CrawlSettings, Settings
from merchant_review.storage import Store, StoredReview
from merchant_review.storage.writes import now

if TYPE_CHECKING:
    from agent.assessor import Assessor
    from merchant_review.batch.runs import Outcome
    from merchant_review.batch.schema import BatchRunRow

log = logging.getLogger(__name__)
OPTION = "shadow"  # the key of the plan in a batch run's options
CHAMPION_OPTION = "champion"  # ... and of the champion configuration the run reviews with
SHADOWED_STATES = ("reviewed", "carried")  # items whose verdict comes from a champion review
AGENT = "agent"  # found_via of pages an LLM agent fetched: not part of the shared crawl


@dataclass(frozen=True)
class ShadowPlan:
    """What a batch run shadows: a challenger, its share and seed, and the champion."""

    config: str
    share: float
    seed: str
    champion: str
    champion_spec: dict[str, Any]
    challenger_spec: dict[str, Any]

    def record(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "share": self.share,
            "seed": self.seed,
            "champion": self.champion,
            "champion_spec": self.champion_spec,
            "challenger_spec": self.challenger_spec,
        }

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> ShadowPlan | None:
        data = options.get(OPTION)
        return cls(**data) if isinstance(data, dict) else None


def plan(store: Store, name: str, share: float) -> ShadowPlan:
    """The plan to shadow challenger `name` on `share` of the merchants (checked)."""
    if not 0.0 < share <= 1.0:
        raise configs.ExperimentError(f"--share must be in (0, 1], not {share}")
    challenger, champion = configs.challenger(store, name)
    return ShadowPlan(
        config=challenger.name,
        share=share,
        seed=challenger.seed,
        champion=champion.name,
        champion_spec=champion.spec.record(),
        challenger_spec=challenger.spec.record(),
    )


def champion_settings(settings: Settings, options: dict[str, Any]) -> Settings:
    """The settings a run's items are reviewed with: the champion's, when it recorded one."""
    champion = options.get(CHAMPION_OPTION)
    shadow = ShadowPlan.from_options(options)
    if isinstance(champion, dict):
        spec = champion["spec"]
    elif shadow is not None:
        spec = shadow.champion_spec
    else:
        return settings
    return ConfigSpec.parse(spec).apply(settings)


def run_options(
    store: Store, settings: Settings, name: str | None, share: float | None
) -> dict[str, Any]:
    """What a new batch run records of the experiments: its champion, its shadow plan.

    With a champion configuration in the database, the run reviews with it (the
    champion's verdicts are the ones that act); with none, with the running settings.
    """
    options: dict[str, Any] = {}
    current = configs.champion(store)
    if current is not None:
        options[CHAMPION_OPTION] = {"name": current.name, "spec": current.spec.record()}
    shadow = requested_plan(store, settings, name, share)
    if shadow is not None:
        options[OPTION] = shadow.record()
    return options


def attach(store: Store, run_id: str, options: dict[str, Any]) -> None:
    """Record `options` in the run's, so resumes and workers review and shadow the same way."""
    from merchant_review.batch.schema import BatchRunRow

    with store.write_session() as session:
        run = session.get_one(BatchRunRow, run_id)
        run.options = {**run.options, **options}


class _Evidence:
    """The champion review's crawl, served to the challenger instead of crawling again."""

    def __init__(self, report: CrawlReport) -> None:
        self.report = report

    async def crawl(
        self, website: str, settings: CrawlSettings, client: httpx.AsyncClient
    ) -> CrawlReport:
        return self.report


def shared_crawl(champion: StoredReview) -> CrawlReport | None:
    """The champion's crawl without the pages its own agent chose to fetch."""
    report = champion.crawl_report()
    if report is None:
        return None
    return report.model_copy(update={"pages": [p for p in report.pages if p.found_via != AGENT]})


class LinkedStore(Store):
    """The store as a challenger's review sees it.

    It shares the open store's engine (no second connection pool, nothing to close), writes
    the link to the champion review as the review's first record, and caps the prior
    reviews the assessor may see at the moment the champion review started.
    """

    def __init__(self, store: Store, link: dict[str, Any], before: datetime) -> None:
        self.__dict__.update(store.__dict__)  # not Store.__init__: no new engine
        self.link = link
        self.before = before

    def start_review(self, **kwargs: Any) -> str:
        review_id = super().start_review(**kwargs)
        self.record_event(review_id, AuditEvent(EventKind.STEP, "shadow_of", input=self.link))
        return review_id

    def prior_reviews(
        self, merchant_id: str, limit: int = 5, *, before: datetime | None = None
    ) -> list[dict[str, Any]]:
        cap = self.before if before is None else min(before, self.before)
        return super().prior_reviews(merchant_id, limit, before=cap)


def shadowed(store: Store, config: str, champion_review_id: str) -> bool:
    """Whether this configuration already shadowed that champion review."""
    query = select(ShadowReviewRow.challenger_review_id).where(
        ShadowReviewRow.config == config, ShadowReviewRow.champion_review_id == champion_review_id
    )
    with store.session() as session:
        return session.scalars(query.limit(1)).first() is not None


def _assessor(settings: Settings) -> Assessor:
    """The challenger's assessor; its model calls keep to the batch's rate (a bucket of
    its own: the challenger's calls are extra, not taken from the champion's)."""
    if settings.batch.rate is None:
        return build_assessor(settings)
    from merchant_review.batch.ratelimit import batch_assessor, limiter

    return batch_assessor(settings, limiter(settings.batch.rate))


class ShadowRunner:
    """Reviews a run's shadowed merchants with the challenger; an async context manager."""

    def __init__(
        self, settings: Settings, store: Store, shadow: ShadowPlan, batch_run_id: str | None
    ) -> None:
        self.plan = shadow
        self.store = store
        self.batch_run_id = batch_run_id
        self.settings = ConfigSpec.parse(shadow.challenger_spec).apply(settings)
        self.assessor = _assessor(self.settings)
        self.corpus = load_corpus(self.settings.policy_dir)
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def for_run(cls, settings: Settings, store: Store, run: BatchRunRow) -> ShadowRunner | None:
        shadow = ShadowPlan.from_options(run.options)
        return cls(settings, store, shadow, run.id) if shadow else None

    async def __aenter__(self) -> ShadowRunner:
        from tools.crawler import make_client

        self._client = make_client(self.settings.crawl)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
        self._client = None

    def wants(self, merchant_id: str) -> bool:
        return assigned(self.plan.seed, merchant_id, self.plan.share)

    async def follow(self, merchant_id: str, outcome: Outcome) -> str | None:
        """Shadow an item's champion review if the merchant is in the share; never raises.

        Returns the challenger's review id (None: not shadowed).
        """
        if outcome.status not in SHADOWED_STATES or not outcome.review_id:
            return None
        if not self.wants(merchant_id):
            return None
        try:
            return await self.shadow(merchant_id, outcome.review_id)
        except Exception as exc:  # the challenger must never stop the champion's work
            log.warning("shadow review of %s by %s failed: %s", merchant_id, self.plan.config, exc)
            return None

    async def shadow(self, merchant_id: str, champion_review_id: str) -> str | None:
        """Review the merchant with the challenger on the champion review's evidence."""
        if shadowed(self.store, self.plan.config, champion_review_id):
            return None
        champion = self.store.get_review(champion_review_id)
        crawl = shared_crawl(champion) if champion and champion.verdict else None
        if champion is None or crawl is None:
            return None
        verdict = await self._review(merchant_id, champion, crawl)
        if verdict is None:
            return None
        self._index(merchant_id, champion_review_id, verdict)
        return verdict

    async def _review(
        self, merchant_id: str, champion: StoredReview, crawl: CrawlReport
    ) -> str | None:
        if self._client is None:
            raise RuntimeError("use `async with ShadowRunner(...)`")
        link = {
            "champion_review_id": champion.review.id,
            "config": self.plan.config,
            "champion": self.plan.champion,
            "share": self.plan.share,
            "batch_run_id": self.batch_run_id,
        }
        reviewer = Reviewer(
            self.settings,
            LinkedStore(self.store, link, champion.review.started_at),
            assessor=self.assessor,
            corpus=self.corpus,
            trigger=SHADOW_TRIGGER,
            page_source=_Evidence(crawl),
            http_client=self._client,
        )
        async with reviewer:
            verdict = await reviewer.review_merchant(merchant_id)
        return verdict.review_id

    def _index(self, merchant_id: str, champion_review_id: str, challenger_review_id: str) -> None:
        with self.store.write_session() as session:
            session.add(
                ShadowReviewRow(
                    challenger_review_id=challenger_review_id,
                    champion_review_id=champion_review_id,
                    config=self.plan.config,
                    merchant_id=merchant_id,
                    batch_run_id=self.batch_run_id,
                    share=self.plan.share,
                    created_at=now(),
                )
            )


def requested_plan(
    store: Store, settings: Settings, name: str | None, share: float | None
) -> ShadowPlan | None:
    """The plan `batch --shadow NAME --share S` asks for, else the settings' (None: none)."""
    name = name or settings.experiment.shadow
    if name is None:
        return None
    found = plan(store, name, settings.experiment.share if share is None else share)
    # Both configurations must build here and now, not fail on the run's first item.
    from agent.prompts import PromptError

    for spec in (found.champion_spec, found.challenger_spec):
        try:
            build_assessor(ConfigSpec.parse(spec).apply(settings))
        except PromptError as exc:
            raise configs.ExperimentError(f"configuration {found.config}: {exc}") from exc
    return found
