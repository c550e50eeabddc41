"""Query parameters of the queue, shared by the queue page and GET /api/queue."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from merchant_review.taxonomy import Category, Decision
from merchant_review.web.config import WebSettings
from merchant_review.web.queries import QueueFilter, SortKey


class QueueQuery(BaseModel):
    """Filters, order and page of the queue; an empty form field means "any"."""

    decision: Decision | None = None
    category: Category | None = None
    date_from: date | None = Field(default=None, description="started on or after (UTC)")
    date_to: date | None = Field(default=None, description="started on or before (UTC)")
    eval_run_id: str | None = Field(default=None, max_length=64)
    batch_run_id: str | None = Field(default=None, max_length=64)
    experiment: str | None = Field(
        default=None, max_length=100, description="a challenger: the reviews it disagreed with"
    )
    all_reviews: bool = Field(
        default=False, description="also reviews superseded by a newer review of the merchant"
    )
    sort: SortKey = SortKey.STARTED
    order: Literal["asc", "desc"] = "desc"
    page: int = Field(default=1, ge=1)
    per_page: int | None = Field(default=None, ge=1, le=200)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    def to_filter(self, web: WebSettings) -> QueueFilter:
        return QueueFilter(
            threshold=web.queue_confidence_threshold,
            decision=self.decision,
            category=self.category,
            date_from=self.date_from,
            date_to=self.date_to,
            eval_run_id=self.eval_run_id,
            batch_run_id=self.batch_run_id,
            experiment=self.experiment,
            latest_only=not self.all_reviews,
            sort=self.sort,
            descending=self.order == "desc",
            page=self.page,
            per_page=self.per_page or web.page_size,
        )
