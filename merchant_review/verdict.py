"""The structured verdict: what a review returns and what the audit log stores."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from merchant_review.taxonomy import Category, Decision


class PageCitation(BaseModel):
    """A verbatim quote from a fetched page."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["page"] = "page"
    url: str = Field(description="URL of the fetched page the quote stands on")
    quote: str = Field(min_length=1, max_length=600, description="verbatim text from the page")


class RecordCitation(BaseModel):
    """A field of the merchant's stored record and its value."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["record"] = "record"
    field: str = Field(description="record field name, e.g. mcc or business_description")
    value: str = Field(min_length=1, max_length=600, description="the field's value, verbatim")


Citation = Annotated[PageCitation | RecordCitation, Field(discriminator="kind")]


class Finding(BaseModel):
    """One policy rule met by cited evidence."""

    rule_id: str
    category: Category
    rationale: str = Field(max_length=2000)
    citations: list[Citation] = Field(default_factory=list)
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)


class SiteStatus(StrEnum):
    """What the crawl found at the merchant's address, independent of policy."""

    OPERATING = "operating"
    UNREACHABLE = "unreachable"
    EMPTY = "empty"
    PARKED = "parked"
    UNDER_CONSTRUCTION = "under_construction"
    UNCLEAR = "unclear"


class RejectedFinding(BaseModel):
    """A proposed finding that verification refused, kept for the analyst."""

    finding: Finding
    reason: str


class Usage(BaseModel):
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> Usage:
        return Usage(
            llm_calls=self.llm_calls + other.llm_calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class Assessment(BaseModel):
    """What an assessor (offline engine or LLM agent) proposes, before verification.

    Assessors propose findings; code verifies their citations and derives the decision.
    """

    findings: list[Finding] = Field(default_factory=list)
    site_status: SiteStatus = SiteStatus.OPERATING
    business_summary: str = ""
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    escalation_reason: str | None = None
    # Said in the verdict's reasons without forcing an escalation (agent/evidence_floor).
    notes: list[str] = Field(default_factory=list)
    engine: str
    model: str | None = None
    prompt_version: str | None = None
    usage: Usage = Field(default_factory=Usage)


class Verdict(BaseModel):
    """The accepted outcome of a review."""

    merchant_id: str | None
    website: str | None
    decision: Decision
    categories: list[Category]
    confidence: float = Field(ge=0.0, le=1.0)
    findings: list[Finding] = Field(default_factory=list)
    rejected_findings: list[RejectedFinding] = Field(default_factory=list)
    site_status: SiteStatus = SiteStatus.OPERATING
    business_summary: str = ""
    reasons: list[str] = Field(default_factory=list, description="why this decision, in words")
    engine: str
    model: str | None = None
    prompt_version: str | None = None
    corpus_version: str
    usage: Usage = Field(default_factory=Usage)
    error: str | None = None
    review_id: str | None = None
    decided_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def citations(self) -> list[PageCitation | RecordCitation]:
        return [citation for finding in self.findings for citation in finding.citations]
