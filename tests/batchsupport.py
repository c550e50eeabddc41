"""Helpers for the batch tests: synthetic merchants served locally, settings, audit counts."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from agent.llm import LLMAssessor
from agent.prompts import PromptSet
from agent.scripted import SCRIPTED_BASE_URL, ScriptedModel
from bench.synthetic import Merchant, make_merchants
from merchant_review.batch import service
from merchant_review.batch.history import ABANDONED
from merchant_review.policy import load_corpus
from merchant_review.settings import EngineChoice, ModelSettings, Settings
from merchant_review.sitehost import SiteHost
from merchant_review.storage import Store
from merchant_review.storage.schema import ReviewRow, VerdictRow

SUBMIT = {
    "findings": [],
    "site_status": "operating",
    "business_summary": "a shop",
    "confidence": 0.9,
}


@dataclass
class World:
    """Merchants with sites served on 127.0.0.1, and a store holding their records."""

    merchants: list[Merchant]
    host: SiteHost
    store: Store
    settings: Settings

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a subprocess with these settings (sites reachable, same DB)."""
        crawl = self.settings.crawl
        return {
            **os.environ,
            "MERCHANT_REVIEW_DATABASE_URL": self.settings.database_url,
            "MERCHANT_REVIEW_ENGINE": self.settings.engine.value,
            "MERCHANT_REVIEW_CRAWL__ORIGIN_OVERRIDES": json.dumps(crawl.origin_overrides),
            "MERCHANT_REVIEW_CRAWL__ALLOW_PRIVATE": json.dumps(crawl.allow_private),
            "MERCHANT_REVIEW_CRAWL__REQUEST_TIMEOUT_S": "5",
            **extra,
        }


def world_settings(database_url: str, host: SiteHost, **changes: Any) -> Settings:
    settings = Settings(database_url=database_url, engine="offline", **changes)
    crawl = settings.crawl.model_copy(
        update={
            "origin_overrides": host.origin_overrides(),
            "allow_private": ["127.0.0.1"],
            "request_timeout_s": 5.0,
        }
    )
    return settings.model_copy(update={"crawl": crawl})


@contextmanager
def world(database_url: str, folder: Path, count: int, **changes: Any) -> Iterator[World]:
    merchants = make_merchants(folder, count)
    store = Store(database_url)
    store.import_merchants(m.record for m in merchants)
    with SiteHost() as host:
        for merchant in merchants:
            host.add_site(merchant.host, merchant.root)
        try:
            yield World(merchants, host, store, world_settings(database_url, host, **changes))
        finally:
            store.close()


def scripted(settings: Settings, model: ScriptedModel) -> tuple[Settings, service.Engine]:
    """Settings for the LLM engine and an Engine whose assessor asks the scripted model."""
    model_settings = ModelSettings(name="scripted", base_url=SCRIPTED_BASE_URL)
    settings = settings.model_copy(update={"engine": EngineChoice.LLM, "model": model_settings})
    assessor = LLMAssessor(model.client(), model_settings, PromptSet.load())
    return settings, service.Engine(assessor, load_corpus(settings.policy_dir))


def offline(settings: Settings) -> service.Engine:
    """The engine `merchant-review --engine offline` builds (as workers do)."""
    return service.Engine.from_settings(settings)


def run_reviews(store: Store, run_id: str) -> dict[str, Counter[str]]:
    """Per merchant, the run's reviews: "real" verdicts, "abandoned" ones, "open" (none)."""
    found: dict[str, Counter[str]] = {"real": Counter(), "abandoned": Counter(), "open": Counter()}
    query = (
        select(ReviewRow.merchant_id, VerdictRow.review_id, VerdictRow.error)
        .outerjoin(VerdictRow, VerdictRow.review_id == ReviewRow.id)
        .where(ReviewRow.batch_run_id == run_id)
    )
    with store.session() as session:
        for merchant_id, verdict, error in session.execute(query):
            if verdict is None:
                kind = "open"
            elif (error or "").startswith(ABANDONED):
                kind = "abandoned"
            else:
                kind = "real"
            found[kind][merchant_id or ""] += 1
    return found
