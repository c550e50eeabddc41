"""What the model may submit (`submit_verdict`), parsed strictly into proposed findings.

The model proposes findings with citations, a site status and a confidence; it never
submits a decision (code derives that from verified findings). Every field is required
in the schema so that a half-filled verdict fails validation and gets one retry, rather
than being silently completed with defaults.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.json_schema import SkipJsonSchema

from merchant_review.settings import validation_problems
from merchant_review.taxonomy import Category
from merchant_review.verdict import Finding, PageCitation, RecordCitation, SiteStatus

SUBMIT_VERDICT = "submit_verdict"


class SubmittedPageCitation(BaseModel):
    """A verbatim quote from a fetched page."""

    url: str = Field(min_length=1)
    quote: str = Field(min_length=1, max_length=600)


class SubmittedRecordCitation(BaseModel):
    """A field of the merchant record and its value, verbatim."""

    field: str = Field(min_length=1)
    value: str = Field(min_length=1, max_length=600)


# Told apart by their required keys ({url, quote} or {field, value}): a `kind` tag would
# cost tokens on every request and in every answer. A `kind` a model still sends (or an
# older cached answer holds) is ignored like any extra key.
SubmittedCitation = SubmittedPageCitation | SubmittedRecordCitation


class SubmittedFinding(BaseModel):
    """One policy rule that cited evidence meets."""

    rule_id: str = Field(min_length=1)
    # Not in the schema sent: a rule id starts with its category ("weapons.firearms"), so
    # the category is derived from it. Accepted when given, and then checked against the
    # rule by verification like before.
    category: SkipJsonSchema[Category | None] = None
    citations: list[SubmittedCitation] = Field(min_length=1, max_length=10)
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _category_known(self) -> SubmittedFinding:
        if self.category is None:
            self.category = rule_category(self.rule_id)
        return self

    def resolved_category(self) -> Category:
        return self.category or rule_category(self.rule_id)


def rule_category(rule_id: str) -> Category:
    """The category a rule id names by its prefix; ValueError for an unknown one."""
    prefix = rule_id.split(".", 1)[0]
    try:
        return Category(prefix)
    except ValueError:
        raise ValueError(f"unknown rule_id {rule_id!r}: it must start with a category id") from None


class SubmittedVerdict(BaseModel):
    """The `submit_verdict` arguments: proposed findings, no decision."""

    # Extra keys (a model adding "decision", say) are ignored: code decides.
    model_config = ConfigDict(extra="ignore")

    # Field meanings are in the system prompt; descriptions here would be sent again on
    # every call, so only the ones a model could not guess are kept.
    findings: list[SubmittedFinding] = Field(max_length=25)
    site_status: SiteStatus
    business_summary: str = Field(max_length=2000)
    confidence: float = Field(ge=0.0, le=1.0)
    escalation_reason: str | None = Field(default=None, max_length=1000)

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
        category=submitted.resolved_category(),
        rationale=submitted.rationale,
        citations=[_citation(citation) for citation in submitted.citations],
        confidence=submitted.confidence,
    )


# Enforced by validation (and fed back when broken), left out of the schema sent: llama.cpp
# turns a maxLength of 2000 into a grammar too large to parse (its server then dies), and
# titles, defaults and the OpenAPI discriminator only cost prompt tokens (the `kind` const
# of each citation shape already tells them apart).
# minLength 1 likewise: an empty string fails validation and is sent back.
_NOT_SENT = frozenset({"title", "maxLength", "minLength", "maxItems", "default", "discriminator"})


def wire_schema(schema: Any, defs: dict[str, Any] | None = None) -> Any:
    """A JSON schema as sent: without the keywords in _NOT_SENT (property names kept),
    `$ref`s to `defs` written in place, and an optional field's `X | None` sent as X
    (leaving it out is how the model says None)."""
    if isinstance(schema, list):
        return [wire_schema(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if defs is None and "$defs" in schema:
        defs = schema["$defs"]
    ref = schema.get("$ref")
    if defs is not None and isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs[ref.removeprefix("#/$defs/")]  # its docstring is not sent
        inlined = {**{k: v for k, v in target.items() if k != "description"}, **schema}
        inlined.pop("$ref")
        return wire_schema(inlined, defs)
    variants = schema.get("anyOf")
    if isinstance(variants, list) and {"type": "null"} in variants and len(variants) == 2:
        (kept,) = [variant for variant in variants if variant != {"type": "null"}]
        rest = {key: value for key, value in schema.items() if key != "anyOf"}
        return wire_schema({**kept, **rest}, defs)
    wired: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            wired[key] = {name: wire_schema(sub, defs) for name, sub in value.items()}
        elif key == "description" and "properties" in schema:
            continue  # an object's docstring: the prompt and field names say it
        elif key not in _NOT_SENT and not (key == "$defs" and defs is not None):
            wired[key] = wire_schema(value, defs)
    return wired


# Built once per process (issue 6: rebuilding them cost ~5% of an LLM review's CPU). The
# same objects go into every request body: callers must not mutate them.
@cache
def verdict_schema() -> dict[str, Any]:
    """The JSON schema of SubmittedVerdict as sent (tool parameters, JSON-mode schema)."""
    wired: dict[str, Any] = wire_schema(SubmittedVerdict.model_json_schema())
    return wired


@cache
def verdict_schema_json() -> str:
    """verdict_schema() as JSON text (the JSON-mode final call quotes it)."""
    return json.dumps(verdict_schema())


@cache
def verdict_tool_spec() -> dict[str, Any]:
    """The OpenAI function-tool definition of submit_verdict."""
    return {
        "type": "function",
        "function": {
            "name": SUBMIT_VERDICT,
            "description": "Submit the assessment (ends the review).",
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
