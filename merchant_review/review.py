"""Running reviews: wires settings, storage, the assessor and the graph together."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from merchant_review.audit import sha256_of
from merchant_review.policy import PolicyCorpus, load_corpus
from merchant_review.records import MerchantRecord
from merchant_review.settings import EngineChoice, Settings
from merchant_review.storage import StorageError, Store
from merchant_review.verdict import Verdict

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from agent.assessor import Assessor
    from agent.context import PageSource
    from tools.records import RecordsSource


class ReviewInputError(Exception):
    """The review cannot start: unknown merchant, bad URL. Nothing has been written."""


def validate_website(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host; else a clear error."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"}:
        raise ReviewInputError(f"bad URL {url!r}: only http:// and https:// sites can be reviewed")
    if not parts.hostname:
        raise ReviewInputError(f"bad URL {url!r}: no host name")
    return url.strip()


def settings_record(settings: Settings) -> dict[str, Any]:
    """The settings that shape a verdict (no secrets, no database location), as stored."""
    data = settings.model_dump(mode="json", exclude={"database_url"})
    data["model"].pop("api_key", None)
    return data


def settings_fingerprint(settings: Settings) -> str:
    """Hash of the settings that shape a verdict (no secrets, no database location)."""
    return sha256_of(settings_record(settings))


def build_assessor(settings: Settings) -> Assessor:
    """The assessor the settings ask for: offline engine, LLM agent, or the cascade."""
    from agent.engines import assessor_for

    return assessor_for(settings)


class Reviewer:
    """Reviews merchants with one set of dependencies; use as an async context manager."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        assessor: Assessor | None = None,
        corpus: PolicyCorpus | None = None,
        trigger: str = "cli",
        eval_run_id: str | None = None,
        batch_run_id: str | None = None,
        page_source: PageSource | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        """`page_source` and `http_client` replace the live crawl and network (replay)."""
        from agent.graph import build_review_graph

        self.settings = settings
        self.store = store
        self.corpus = corpus or load_corpus(settings.policy_dir)
        self.assessor = assessor or build_assessor(settings)
        self.trigger = trigger
        self.eval_run_id = eval_run_id
        self.batch_run_id = batch_run_id
        self.graph = build_review_graph()
        self.page_source = page_source
        self._given_client = http_client
        self._client: httpx.AsyncClient | None = None
        self._hashed: tuple[Settings, str] | None = None

    async def __aenter__(self) -> Reviewer:
        from tools.crawler import make_client

        self._client = self._given_client or make_client(self.settings.crawl)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None and self._client is not self._given_client:
            await self._client.aclose()
        self._client = None

    def _settings_hash(self) -> str:
        """settings_fingerprint, computed once per settings object (not once per review)."""
        if self._hashed is None or self._hashed[0] is not self.settings:
            self._hashed = (self.settings, settings_fingerprint(self.settings))
        return self._hashed[1]

    async def review_merchant(self, merchant_id: str) -> Verdict:
        """Review a merchant held in the records database."""
        record = self.store.get_merchant(merchant_id)
        if record is None:
            raise ReviewInputError(f"unknown merchant {merchant_id!r}: not in the records database")
        return await self.review_record(record)

    async def review_record(self, record: MerchantRecord) -> Verdict:
        """Review a merchant whose record the caller has just read from the records database."""
        return await self._run(record, validate_website(record.website))

    async def review_url(self, url: str) -> Verdict:
        """Review a website with no stored record."""
        return await self._run(None, validate_website(url))

    async def replay(
        self,
        merchant: MerchantRecord | None,
        website: str,
        *,
        records: RecordsSource | None,
        replay_of: str,
    ) -> Verdict:
        """Re-run a stored review (merchant_review/replay.py sets up the seams)."""
        return await self._run(merchant, website, records=records, replay_of=replay_of)

    async def _run(
        self,
        merchant: MerchantRecord | None,
        website: str,
        *,
        records: RecordsSource | None = None,
        replay_of: str | None = None,
    ) -> Verdict:
        from agent.context import LiveCrawl, ReviewContext

        if self._client is None:
            raise RuntimeError("use `async with Reviewer(...)` to open the HTTP client")
        context = ReviewContext(
            settings=self.settings,
            store=self.store,
            assessor=self.assessor,
            corpus=self.corpus,
            http_client=self._client,
            settings_hash=self._settings_hash(),
            trigger=self.trigger,
            eval_run_id=self.eval_run_id,
            batch_run_id=self.batch_run_id,
            page_source=self.page_source or LiveCrawl(),
            records=records,
            replay_of=replay_of,
        )
        try:
            state = await self.graph.ainvoke(
                {"merchant": merchant, "website": website}, context=context
            )
        except BaseException:  # stopped midway (cancelled, storage error): keep the steps run
            for review_id in context.opened:
                try:
                    self.store.flush(review_id)
                except StorageError as exc:  # the error in flight says more than this one
                    log.warning("review %s: deferred audit records not written: %s", review_id, exc)
            raise
        verdict: Verdict = state["verdict"]
        return verdict


def engine_label(settings: Settings) -> str:
    engine = settings.resolved_engine()
    if engine is EngineChoice.OFFLINE:
        return "offline"
    return f"{engine.value}:{settings.model.name or '?'}"
