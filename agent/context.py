"""What a review run depends on, injected into the graph (LangGraph runtime context)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from agent.assessor import Assessor
from merchant_review.policy import PolicyCorpus
from merchant_review.settings import Settings
from merchant_review.storage import Store


@dataclass
class ReviewContext:
    settings: Settings
    store: Store
    assessor: Assessor
    corpus: PolicyCorpus
    http_client: httpx.AsyncClient
    settings_hash: str
    trigger: str = "cli"
    eval_run_id: str | None = None
    batch_run_id: str | None = None
