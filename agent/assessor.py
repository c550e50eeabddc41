"""The one interface both assessors (offline engine, LLM agent) implement."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from agent.offline.snippets import SnippetMemo
from merchant_review.pages import CrawlReport, PageSnapshot
from merchant_review.policy import PolicyCorpus, RetrievedRule
from merchant_review.records import MerchantRecord
from merchant_review.verdict import Assessment, Finding
from tools.toolbox import ReviewToolbox

if TYPE_CHECKING:  # agent.evidence_floor imports this module
    from agent.evidence_floor import OfflineRun


@dataclass
class AssessmentRequest:
    """Everything an assessor may look at. Page text is untrusted data."""

    merchant: MerchantRecord | None
    website: str
    crawl: CrawlReport
    pages: list[PageSnapshot]  # crawled pages, plus any the agent fetches (shared list)
    rules: list[RetrievedRule]
    corpus: PolicyCorpus
    leads: list[Finding] = field(default_factory=list)  # cascade: offline findings as leads
    # The snippets of the pages, cut once for every reader of this review (the model's
    # excerpts, the evidence floor's offline engine): agent/offline/snippets.py. A request
    # derived with dataclasses.replace (the cascade's, with leads) keeps the same memo.
    snippet_memo: SnippetMemo = field(default_factory=SnippetMemo, repr=False, compare=False)
    # The offline assessment a cascade made of this request before asking the model, for
    # the evidence floor to take instead of repeating it: agent/evidence_floor.py.
    offline_run: OfflineRun | None = field(default=None, repr=False, compare=False)


class Assessor(Protocol):
    @property
    def engine(self) -> str:
        """The engine id the audit log records (e.g. "offline-rules@v1", "llm")."""
        ...

    async def assess(self, request: AssessmentRequest, toolbox: ReviewToolbox) -> Assessment:
        """Propose findings with citations; code verifies them and decides."""
        ...
