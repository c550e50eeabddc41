"""The cascade's offline assessment travels with its request (`offline_run`): the evidence
floor takes it from the request it is given, in whatever task it runs, and a request of
another review never gets it (agent/evidence_floor.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from agent.assessor import AssessmentRequest
from agent.cascade import CascadeAssessor
from agent.evidence_floor import apply_evidence_floor, offline_assessment
from merchant_review.audit import MemoryAudit
from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.settings import CascadeRoute, Settings
from merchant_review.verdict import Assessment
from tests.test_cascade import CORPUS, MODEL_ANSWER, PAGE, URL, Fixed, casino
from tools.toolbox import ReviewToolbox

SETTINGS = Settings(database_url="sqlite://", cascade={"route": CascadeRoute.NON_APPROVE})


def _request() -> AssessmentRequest:
    pages = [PAGE]
    crawl = CrawlReport(start_url=URL, pages=list(pages))
    return AssessmentRequest(
        merchant=None, website=URL, crawl=crawl, pages=pages, rules=[], corpus=CORPUS
    )


def _toolbox(request: AssessmentRequest) -> ReviewToolbox:
    return ReviewToolbox(
        merchant_id=None,
        website=URL,
        pages=request.pages,
        corpus=CORPUS,
        crawl_settings=SETTINGS.crawl,
        audit=MemoryAudit(),
    )


def _cascade() -> tuple[CascadeAssessor, Fixed]:
    offline = Fixed("offline", casino(0.95))  # not an approval: the model is asked
    model = Fixed("llm:m", MODEL_ANSWER.model_copy(update={"model": "m"}))
    return CascadeAssessor(offline, model, SETTINGS), offline


async def _floor(assessment: Assessment, request: AssessmentRequest, offline: Fixed) -> None:
    result = await apply_evidence_floor(assessment, request, _toolbox(request), SETTINGS, offline)
    assert "gambling" in (result.escalation_reason or "")  # the floor saw the casino evidence


async def test_the_floor_takes_the_run_from_the_request_in_another_task() -> None:
    """A task's context changes made in another task are not seen: the run is not there."""
    cascade, offline = _cascade()
    request = _request()
    assessment = await asyncio.create_task(cascade.assess(request, _toolbox(request)))
    assert request.offline_run is not None
    await _floor(assessment, request, offline)
    assert len(offline.requests) == 1


async def test_a_request_of_another_review_runs_the_engine() -> None:
    cascade, offline = _cascade()
    first = _request()
    assessment = await cascade.assess(first, _toolbox(first))
    other = _request()  # the same pages, another review's request
    assert other.offline_run is None
    await _floor(assessment, other, offline)
    assert len(offline.requests) == 2 and offline.requests[1] is other


async def test_a_request_derived_with_other_pages_does_not_take_the_run() -> None:
    """dataclasses.replace copies offline_run: it still belongs to the pages it was made of."""
    cascade, offline = _cascade()
    request = _request()
    await cascade.assess(request, _toolbox(request))
    clean = PageSnapshot(url=URL, requested_url=URL, status=200, title="Garden", text="Rakes.")
    derived = replace(request, pages=[clean])  # as many pages, other ones
    assert derived.offline_run is request.offline_run
    assert offline_assessment(derived, offline) is None
    assert offline_assessment(request, offline) is not None
