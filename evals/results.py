"""What an eval run produces before scoring: one `CaseResult` per case, in an `EvalRun`.

A case *fails* when it produced no decision or its review recorded an error (a step of the
review raised). The contract says a case that fails to run counts as wrong, so `correct` is
False for a failed case even when the fallback decision happens to equal the expected one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from merchant_review.taxonomy import Category, Decision

ERROR_LABEL = "error"
"""How a failed case's decision is shown (confusion matrix, summaries, compare)."""


class CaseResult(BaseModel):
    """One reviewed case: what was expected, what the system said, and what it cost.

    `citations` holds every quote the verdict cited, each a dict
    `{"kind": "page", "url", "quote", "valid"}` or `{"kind": "record", "field", "value",
    "valid"}`; `invalid_citations` is the sub-list whose `valid` is False (filled from
    `citations` when not given).
    """

    case_id: str
    expected_decision: Decision
    expected_categories: list[Category] = Field(default_factory=list)
    decision: Decision | None = None
    categories: list[Category] = Field(default_factory=list)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    citations: list[dict[str, Any]] = Field(default_factory=list)
    invalid_citations: list[dict[str, Any]] = Field(default_factory=list)
    seconds: float = Field(default=0.0, ge=0.0)
    error: str | None = None
    review_id: str | None = None
    llm_calls: int = Field(default=0, ge=0)
    tokens: int = Field(default=0, ge=0)
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    cost_usd: float | None = Field(default=None, ge=0.0)  # None: the model has no price
    sent_to_model: bool = False
    language: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _derive_invalid(self) -> CaseResult:
        if "invalid_citations" not in self.model_fields_set:
            self.invalid_citations = [c for c in self.citations if not c.get("valid", False)]
        return self

    @property
    def failed(self) -> bool:
        """No decision, or the review recorded an error: the case failed to run."""
        return self.decision is None or self.error is not None

    @property
    def correct(self) -> bool:
        """The decision equals the expected one and the case did not fail."""
        return not self.failed and self.decision == self.expected_decision

    @property
    def shown_decision(self) -> str:
        """The decision as a label, `error` for a failed case."""
        return ERROR_LABEL if self.failed or self.decision is None else str(self.decision)

    @property
    def scored_categories(self) -> set[str]:
        """Categories that count for scoring: none for a failed case (it counts as wrong)."""
        return set() if self.failed else {str(c) for c in self.categories}


class EvalRun(BaseModel):
    """A whole run over a dataset: identity, timing, settings, and every case's result."""

    run_id: str
    dataset: str
    engine: str
    started_at: datetime
    finished_at: datetime
    settings: dict[str, Any] = Field(default_factory=dict)
    cases: list[CaseResult] = Field(default_factory=list)
