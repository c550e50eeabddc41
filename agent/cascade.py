"""The cascade: the offline engine first, the LLM agent for what offline cannot settle.

Offline findings are verified and decided exactly as the graph would; when that outcome is
settled (by the configured route) the offline assessment stands, else the LLM agent reviews
the case with the verified offline findings handed to it as leads.
"""

from __future__ import annotations

from dataclasses import replace

from agent.assessor import AssessmentRequest, Assessor
from agent.decide import decide_outcome
from agent.evidence_floor import OfflineRun
from agent.verify import verify_findings
from merchant_review.settings import CascadeRoute, Settings
from merchant_review.taxonomy import Decision
from merchant_review.verdict import Assessment, Finding, RejectedFinding
from tools.toolbox import ReviewToolbox


class CascadeAssessor:
    """Offline first; the model only where the route says offline has not settled it."""

    def __init__(self, offline: Assessor, model: Assessor, settings: Settings) -> None:
        self.offline = offline
        self.model = model
        self.settings = settings
        self.prompt_version = getattr(model, "prompt_version", None)
        self.model_name = getattr(model, "model_name", None)

    @property
    def engine(self) -> str:
        return f"cascade:{self.offline.engine}+{self.model.engine}"

    def _unsettled(
        self, assessment: Assessment, verified: list[Finding], rejected: list[RejectedFinding]
    ) -> bool:
        """Whether the offline outcome is unsettled under the configured route."""
        outcome = decide_outcome(assessment, verified, rejected, self.settings)
        route = self.settings.cascade.route
        unsure = outcome.confidence < self.settings.cascade.confidence_threshold
        not_approved = outcome.decision is not Decision.APPROVE
        if route is CascadeRoute.NON_APPROVE:
            return not_approved
        if route is CascadeRoute.LOW_CONFIDENCE:
            return unsure
        return not_approved or unsure

    async def assess(self, request: AssessmentRequest, toolbox: ReviewToolbox) -> Assessment:
        first = await self.offline.assess(request, toolbox)
        verified, rejected = verify_findings(  # once: for the route and as the model's leads
            first.findings, request.pages, request.merchant, request.corpus
        )
        if not self._unsettled(first, verified, rejected):
            return first
        # The evidence floor takes it rather than run the engine again, if the model
        # fetches no page (agent/evidence_floor.py).
        request.offline_run = OfflineRun(tuple(request.pages), self.offline, first)
        second = await self.model.assess(replace(request, leads=verified), toolbox)
        return second.model_copy(update={"usage": first.usage.add(second.usage)})
