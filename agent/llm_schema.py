"""What the model may submit (`submit_verdict`), parsed strictly into proposed findings.

The model proposes findings with citations, a site status and a confidence; it never
submits a decision (code derives that from verified findings). Every field is required
in the schema so that a half-filled verdict fails validation and gets one retry, rather
than being silently completed with defaults.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from merchant_review.settings import validation_problems
from merchant_review.taxonomy import Category
from merchant_review.verdict import Finding, PageCitation, RecordCitation, SiteStatus

SUBMIT_VERDICT = "submit_verdict"


class SubmittedPageCitation(BaseModel):
    """A verbatim quote from a fetched page."""

    kind: Literal["page"]
    url: str = Field(min_length=1, description="URL of the fetched page the quote stands on")
    quote: str = Field(min_length=1, max_length=600, description="text copied verbatim")


class SubmittedRecordCitation(BaseModel):
    """A field of the merchant record and its value, verbatim."""

    kind: Literal["record"]
    field: str = Field(min_length=1, description="record field name, e.g. mcc")
    value: str = Field(min_length=1, max_length=600, description="the field's value")


SubmittedCitation = Annotated[
    SubmittedPageCitation | SubmittedRecordCitation, Field(discriminator="kind")
]


class SubmittedFinding(BaseModel):
    """One policy rule that cited evidence meets."""

    rule_id: str = Field(min_length=1, description="id of the policy rule met")
    category: Category = Field(description="taxonomy category id of that rule")
    rationale: str = Field(min_length=1, max_length=2000, description="why the evidence meets it")
    citations: list[SubmittedCitation] = Field(min_length=1, max_length=10)
    confidence: float = Field(ge=0.0, le=1.0, description="how sure, 0 to 1")


class SubmittedVerdict(BaseModel):
    """The `submit_verdict` arguments: proposed findings, no decision."""

    # Extra keys (a model adding "decision", say) are ignored: code decides.
    model_config = ConfigDict(extra="ignore")

    findings: list[SubmittedFinding] = Field(max_length=25, description="empty if none apply")
    site_status: SiteStatus = Field(description="what the crawl found at the address")
    business_summary: str = Field(max_length=2000, description="what the site sells or does")
    confidence: float = Field(ge=0.0, le=1.0, description="confidence in the whole assessment")
    escalation_reason: str | None = Field(
        default=None, max_length=1000, description="why a human should decide, if so"
    )

    def proposed_findings(self) -> list[Finding]:
        """The findings as the verdict model's Finding objects (not yet verified)."""
        return [_finding(submitted) for submitted in self.findings]


def _citation(
    submitted: SubmittedPageCitation | SubmittedRecordCitation,
) -> PageCitation | RecordCitation:
    if isinstance(submitted, SubmittedPageCitation):
        return PageCitation(url=submitted.url, quote=submitted.quote)
    return RecordCitation(field=submitted.field, value=submitted.value)


def _finding(submitted: SubmittedFinding) -> Finding:
    return Finding(
        rule_id=submitted.rule_id,
        category=submitted.category,
        rationale=submitted.rationale,
        citations=[_citation(citation) for citation in submitted.citations],
        confidence=submitted.confidence,
    )


# Enforced by validation (and fed back when broken), left out of the schema sent: llama.cpp
# turns a maxLength of 2000 into a grammar too large to parse (its server then dies), and
# titles only cost prompt tokens.
_NOT_SENT = frozenset({"title", "maxLength", "maxItems"})


def wire_schema(schema: Any) -> Any:
    """A JSON schema as sent: without the keywords in _NOT_SENT (property names kept)."""
    if isinstance(schema, list):
        return [wire_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    wired: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            wired[key] = {name: wire_schema(sub) for name, sub in value.items()}
        elif key not in _NOT_SENT:
            wired[key] = wire_schema(value)
    return wired


def verdict_schema() -> dict[str, Any]:
    """The JSON schema of SubmittedVerdict as sent (tool parameters, JSON-mode schema)."""
    wired: dict[str, Any] = wire_schema(SubmittedVerdict.model_json_schema())
    return wired


def verdict_tool_spec() -> dict[str, Any]:
    """The OpenAI function-tool definition of submit_verdict."""
    return {
        "type": "function",
        "function": {
            "name": SUBMIT_VERDICT,
            "description": (
                "Submit the assessment: proposed findings with verbatim citations, the site "
                "status, a business summary and a confidence. Ends the review."
            ),
            "parameters": verdict_schema(),
        },
    }


class VerdictError(Exception):
    """The submitted verdict is unusable; the message is sent back to the model."""


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_verdict(raw: str | None) -> SubmittedVerdict:
    """Parse and validate submitted JSON; VerdictError says what is wrong, briefly."""
    if not raw or not raw.strip():
        raise VerdictError("the verdict is empty")
    # JSON-mode answers sometimes arrive inside a Markdown code fence.
    fenced = _FENCE.match(raw)
    text = fenced.group(1) if fenced else raw
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VerdictError(f"the verdict is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise VerdictError("the verdict must be a JSON object")
    try:
        return SubmittedVerdict.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc)
        raise VerdictError(f"the verdict does not match the schema: {problems}") from exc
