"""Capturing what the offline engine sees: every case crawled exactly as an eval runs it.

A `CapturingAssessor` wraps the offline engine inside the real EvalRunner (served sites,
real crawler, real graph) and keeps each case's `AssessmentRequest`, so that training and
threshold choice see the same pages and snippets the engine sees in production.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from agent.assessor import AssessmentRequest
from agent.offline import OfflineAssessor
from evals.dataset import Dataset, EvalCase
from evals.runner import EvalRunner
from merchant_review.settings import EngineChoice, Settings
from merchant_review.storage import Store
from merchant_review.verdict import Assessment
from tools.toolbox import ReviewToolbox


class CapturingAssessor:
    """The plain offline engine, remembering each request by merchant id."""

    def __init__(self) -> None:
        self.inner = OfflineAssessor()
        self.requests: dict[str, AssessmentRequest] = {}

    @property
    def engine(self) -> str:
        return self.inner.engine

    async def assess(self, request: AssessmentRequest, toolbox: ReviewToolbox) -> Assessment:
        if request.merchant is not None:
            self.requests[request.merchant.merchant_id] = request
        return await self.inner.assess(request, toolbox)


def capture(dataset: Dataset, cases: list[EvalCase]) -> dict[str, AssessmentRequest]:
    """case id -> the request the engine received (cases whose site is unreachable too)."""
    capturing = CapturingAssessor()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'capture.db'}", engine=EngineChoice.OFFLINE
        )
        runner = EvalRunner(
            dataset, settings, Store(settings.database_url), assessor=capturing, concurrency=8
        )
        asyncio.run(runner.run(cases))
    by_merchant = capturing.requests
    return {
        case.case_id: by_merchant[case.merchant.merchant_id]
        for case in cases
        if case.merchant.merchant_id in by_merchant
    }
