"""The JSON API's request and response bodies (they make the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from merchant_review.storage.reads import StoredReview
from merchant_review.storage.schema import OverrideRow
from merchant_review.taxonomy import Category, Decision
from merchant_review.verdict import Verdict
from merchant_review.web.jobs import Job, JobStatus
from merchant_review.web.queries import QueueItem, QueuePage


class StartReview(BaseModel):
    merchant_id: str = Field(
        min_length=1, max_length=200, description="a merchant in the records DB"
    )


class JobOut(BaseModel):
    """A review started through the API or the web app, and where to follow it."""

    job_id: str
    merchant_id: str
    status: JobStatus
    status_url: str
    requested_by: str
    created_at: datetime
    review_id: str | None = None
    review_url: str | None = None
    decision: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            job_id=job.id,
            merchant_id=job.merchant_id,
            status=job.status,
            status_url=f"/api/review-jobs/{job.id}",
            requested_by=job.requested_by,
            created_at=job.created_at,
            review_id=job.review_id,
            review_url=f"/api/reviews/{job.review_id}" if job.review_id else None,
            decision=job.decision,
            error=job.error,
        )


class OverrideIn(BaseModel):
    decision: Decision
    reason: str = Field(min_length=1, max_length=4000, description="why (kept in the audit log)")
    categories: list[Category] | None = Field(
        default=None, description="replace the verdict's categories (null keeps them)"
    )


class OverrideOut(BaseModel):
    seq: int
    corrects_seq: int
    analyst: str
    decision: str
    categories: list[str] | None
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, row: OverrideRow) -> OverrideOut:
        return cls(
            seq=row.seq,
            corrects_seq=row.corrects_seq,
            analyst=row.analyst,
            decision=row.decision,
            categories=row.categories,
            reason=row.reason,
            created_at=row.created_at,
        )


class FinalOut(BaseModel):
    """The decision that stands: the verdict's, or the latest override's."""

    decision: Decision
    categories: list[Category]
    engine_decision: Decision
    analyst: str | None


class ReviewOut(BaseModel):
    review_id: str
    merchant_id: str | None
    website: str
    started_at: datetime
    trigger: str
    engine: str
    model: str | None
    prompt_version: str | None
    corpus_version: str
    eval_run_id: str | None
    batch_run_id: str | None
    finished: bool
    verdict: Verdict | None
    overrides: list[OverrideOut]
    final: FinalOut | None

    @classmethod
    def of(cls, stored: StoredReview) -> ReviewOut:
        review, final = stored.review, stored.final_decision()
        return cls(
            review_id=review.id,
            merchant_id=review.merchant_id,
            website=review.website,
            started_at=review.started_at,
            trigger=review.trigger,
            engine=review.engine,
            model=review.model,
            prompt_version=review.prompt_version,
            corpus_version=review.corpus_version,
            eval_run_id=review.eval_run_id,
            batch_run_id=review.batch_run_id,
            finished=stored.verdict is not None,
            verdict=stored.parsed_verdict(),
            overrides=[OverrideOut.of(row) for row in stored.overrides],
            final=FinalOut(
                decision=final.decision,
                categories=final.categories,
                engine_decision=final.engine_decision,
                analyst=final.analyst,
            )
            if final
            else None,
        )


class QueueItemOut(BaseModel):
    review_id: str
    merchant_id: str | None
    website: str
    started_at: datetime
    engine: str
    decision: str
    confidence: float
    categories: list[str]
    reason: str
    eval_run_id: str | None
    batch_run_id: str | None
    review_url: str

    @classmethod
    def of(cls, item: QueueItem) -> QueueItemOut:
        return cls(**vars(item), review_url=f"/api/reviews/{item.review_id}")


class QueueOut(BaseModel):
    items: list[QueueItemOut]
    total: int
    page: int
    per_page: int
    pages: int

    @classmethod
    def of(cls, page: QueuePage) -> QueueOut:
        return cls(
            items=[QueueItemOut.of(item) for item in page.items],
            total=page.total,
            page=page.page,
            per_page=page.per_page,
            pages=page.pages,
        )
