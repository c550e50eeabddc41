"""The cascade sends to the model exactly what offline cannot settle, with leads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.assessor import AssessmentRequest
from agent.cascade import CascadeAssessor
from merchant_review.audit import MemoryAudit
from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.policy import PolicyCorpus, PolicyRule
from merchant_review.settings import CascadeRoute, Settings
from merchant_review.taxonomy import Category
from merchant_review.verdict import Assessment, Finding, PageCitation, Usage
from tools.toolbox import ReviewToolbox

URL = "https://shop.example/"
PAGE = PageSnapshot(url=URL, requested_url=URL, status=200, text="Online casino: win real money")
CORPUS = PolicyCorpus(
    [
        PolicyRule(
            id="gambling.casino",
            category=Category.GAMBLING,
            tier=Category.GAMBLING.tier,
            title="Casinos",
            description="Games of chance for money.",
        )
    ],
    version="corpus-test",
    source=Path("."),
)


class Fixed:
    def __init__(self, engine: str, assessment: Assessment) -> None:
        self.engine = engine
        self.assessment = assessment
        self.requests: list[AssessmentRequest] = []

    async def assess(self, request: AssessmentRequest, toolbox: ReviewToolbox) -> Assessment:
        self.requests.append(request)
        return self.assessment


def casino(confidence: float) -> Assessment:
    finding = Finding(
        rule_id="gambling.casino",
        category=Category.GAMBLING,
        rationale="casino",
        citations=[PageCitation(url=URL, quote="win real money")],
        confidence=confidence,
    )
    return Assessment(engine="offline", confidence=confidence, findings=[finding])


def clean(confidence: float) -> Assessment:
    return Assessment(engine="offline", confidence=confidence)


MODEL_ANSWER = Assessment(engine="llm:m", confidence=0.7, usage=Usage(llm_calls=2))


@pytest.mark.parametrize(
    ("route", "offline", "sent"),
    [
        (CascadeRoute.NON_APPROVE, casino(0.95), True),
        (CascadeRoute.NON_APPROVE, clean(0.55), False),
        (CascadeRoute.LOW_CONFIDENCE, casino(0.95), False),
        (CascadeRoute.LOW_CONFIDENCE, clean(0.55), True),
        (CascadeRoute.EITHER, clean(0.95), False),
        (CascadeRoute.EITHER, casino(0.95), True),
    ],
)
async def test_routing(route: CascadeRoute, offline: Assessment, sent: bool) -> None:
    settings = Settings(database_url="sqlite://", cascade={"route": route})
    first, model = Fixed("offline", offline), Fixed("llm:m", MODEL_ANSWER)
    cascade = CascadeAssessor(first, model, settings)
    request = AssessmentRequest(
        merchant=None,
        website=URL,
        crawl=CrawlReport(start_url=URL, pages=[PAGE]),
        pages=[PAGE],
        rules=[],
        corpus=CORPUS,
    )
    toolbox = ReviewToolbox(
        merchant_id=None,
        website=URL,
        pages=[PAGE],
        corpus=CORPUS,
        crawl_settings=settings.crawl,
        audit=MemoryAudit(),
    )
    result = await cascade.assess(request, toolbox)
    assert bool(model.requests) is sent
    assert (result.usage.llm_calls == 2) is sent
    if sent:
        assert model.requests[0].leads == offline.findings  # verified offline findings as leads
    assert cascade.engine == "cascade:offline+llm:m"


class Fetching(Fixed):
    """A model that fetches one more page (appended to the shared page list) first."""

    async def assess(self, request: AssessmentRequest, toolbox: ReviewToolbox) -> Assessment:
        request.pages.append(PAGE.model_copy(update={"url": URL + "more"}))
        return await super().assess(request, toolbox)


@pytest.mark.parametrize(("model_class", "offline_runs"), [(Fixed, 1), (Fetching, 2)])
async def test_evidence_floor_reuses_the_cascades_offline_assessment(
    model_class: type[Fixed], offline_runs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unless the model fetched pages, the floor takes the offline assessment the cascade
    made (same engine, same pages) instead of running the engine again; the cascade
    verifies the offline findings once."""
    import agent.cascade
    from agent.evidence_floor import apply_evidence_floor

    settings = Settings(database_url="sqlite://", cascade={"route": CascadeRoute.NON_APPROVE})
    model_answer = MODEL_ANSWER.model_copy(update={"model": "m"})
    first, model = Fixed("offline", casino(0.95)), model_class("llm:m", model_answer)
    cascade = CascadeAssessor(first, model, settings)
    verified: list[object] = []
    real_verify = agent.cascade.verify_findings

    def counting_verify(*args: Any, **kwargs: Any) -> Any:
        verified.append(args)
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(agent.cascade, "verify_findings", counting_verify)
    pages = [PAGE]
    request = AssessmentRequest(
        merchant=None, website=URL, crawl=CrawlReport(start_url=URL, pages=[PAGE]),
        pages=pages, rules=[], corpus=CORPUS,
    )  # fmt: skip
    toolbox = ReviewToolbox(
        merchant_id=None, website=URL, pages=pages, corpus=CORPUS,
        crawl_settings=settings.crawl, audit=MemoryAudit(),
    )  # fmt: skip
    assessment = await cascade.assess(request, toolbox)
    assert len(verified) == 1 and len(model.requests) == 1
    result = await apply_evidence_floor(assessment, request, toolbox, settings, first)
    assert len(first.requests) == offline_runs
    # Either way the floor saw the casino evidence the model left out.
    assert "gambling" in (result.escalation_reason or "")
