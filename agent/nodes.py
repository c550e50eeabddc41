"""The review graph's nodes, one function each, named for what they do."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agent.assessor import AssessmentRequest
from agent.budget import ReviewBudget, assess_within
from agent.context import ReviewContext
from agent.decide import decide_outcome
from agent.evidence_floor import apply_evidence_floor
from agent.state import ReviewState
from agent.verify import verify_findings
from merchant_review.review import settings_record
from merchant_review.storage import ReviewAudit
from merchant_review.verdict import Assessment, Usage, Verdict
from tools.toolbox import ReviewToolbox

Update = dict[str, Any]


async def load_merchant(state: ReviewState, *, runtime: Runtime[ReviewContext]) -> Update:
    """Open the review in the audit log with the versions and settings that will decide it."""
    ctx = runtime.context
    review_id = ctx.store.start_review(
        merchant=state["merchant"],
        website=state["website"],
        engine=ctx.assessor.engine,
        model=getattr(ctx.assessor, "model_name", None),  # only assessors that call a model
        prompt_version=getattr(ctx.assessor, "prompt_version", None),
        corpus_version=ctx.corpus.version,
        settings_hash=ctx.settings_hash,
        settings=settings_record(ctx.settings),
        trigger=ctx.trigger,
        eval_run_id=ctx.eval_run_id,
        batch_run_id=ctx.batch_run_id,
        replay_of=ctx.replay_of,
    )
    ctx.opened.append(review_id)
    return {"review_id": review_id, "pages": [], "pages_saved": 0, "error": None}


async def crawl_website(state: ReviewState, *, runtime: Runtime[ReviewContext]) -> Update:
    """Crawl the merchant's site within the configured limits; store every fetched page."""
    ctx = runtime.context
    crawl, review_s = ctx.settings.crawl, ctx.settings.limits.time_budget_s
    if crawl.time_budget_s > review_s:  # the crawl is part of the review's wall time
        crawl = crawl.model_copy(update={"time_budget_s": review_s})
    report = await ctx.page_source.crawl(state["website"], crawl, ctx.http_client)
    ctx.store.defer_crawl(state["review_id"], report)  # written with the step's record
    return {"crawl": report, "pages": list(report.pages), "pages_saved": len(report.pages)}


def _retrieval_query(state: ReviewState) -> str:
    merchant = state["merchant"]
    declared = [merchant.dba, merchant.business_description] if merchant else []
    seen = [f"{page.title} {page.text[:1500]}" for page in state.get("pages", []) if page.ok]
    return " ".join(part for part in [*declared, *seen] if part)


async def retrieve_rules(state: ReviewState, *, runtime: Runtime[ReviewContext]) -> Update:
    """Find the policy rules most relevant to what the merchant declares and shows."""
    return {"rules": runtime.context.corpus.search(_retrieval_query(state), k=12)}


async def assess(state: ReviewState, *, runtime: Runtime[ReviewContext]) -> Update:
    """Ask the assessor (offline engine or LLM agent) for findings with citations."""
    ctx = runtime.context
    pages = state["pages"]  # shared: pages the agent fetches are appended here
    limits = ctx.settings.limits
    # The crawl spent part of the review's wall time; the assessment gets the rest.
    budget = ReviewBudget(limits, limits.time_budget_s - state["crawl"].elapsed_s)
    toolbox = ReviewToolbox(
        merchant_id=state["merchant"].merchant_id if state["merchant"] else None,
        website=state["website"],
        pages=pages,
        corpus=ctx.corpus,
        crawl_settings=ctx.settings.crawl,
        audit=budget.watch(ReviewAudit(ctx.store, state["review_id"])),
        records=(ctx.records or ctx.store) if state["merchant"] else None,
        http_client=ctx.http_client,
        include_personal=ctx.settings.share_personal_data_with_model,
        max_agent_fetches=limits.max_agent_fetches,
        # The agent's fetches share the crawl's byte budget: one cap for the whole review.
        max_agent_bytes=max(ctx.settings.crawl.max_total_bytes - state["crawl"].total_bytes, 0),
    )
    request = AssessmentRequest(
        merchant=state["merchant"],
        website=state["website"],
        crawl=state["crawl"],
        pages=pages,
        rules=state.get("rules", []),
        corpus=ctx.corpus,
    )
    assessment = await assess_within(budget, ctx.assessor, request, toolbox)
    # A model may omit evidence it was told (by a page) to ignore: see agent/evidence_floor.
    assessment = await apply_evidence_floor(assessment, request, toolbox, ctx.settings)
    new_pages = pages[state.get("pages_saved", 0) :]
    ctx.store.save_pages(state["review_id"], new_pages)
    return {"assessment": assessment, "pages": pages, "pages_saved": len(pages)}


async def verify_citations(state: ReviewState, *, runtime: Runtime[ReviewContext]) -> Update:
    """Keep only citations that stand verbatim on a fetched page or in the record."""
    verified, rejected = verify_findings(
        state["assessment"].findings, state["pages"], state["merchant"], runtime.context.corpus
    )
    return {"verified_findings": verified, "rejected_findings": rejected}


async def decide(state: ReviewState, *, runtime: Runtime[ReviewContext]) -> Update:
    """Derive the decision from verified findings by the taxonomy's rules."""
    ctx = runtime.context
    assessment: Assessment | None = state.get("assessment")
    verified = state.get("verified_findings", [])
    rejected = state.get("rejected_findings", [])
    pages = state.get("pages", [])
    outcome = decide_outcome(
        assessment, verified, rejected, ctx.settings, state.get("error"), pages=pages
    )
    merchant = state["merchant"]
    verdict = Verdict(
        merchant_id=merchant.merchant_id if merchant else None,
        website=state["website"],
        decision=outcome.decision,
        categories=outcome.categories,
        confidence=outcome.confidence,
        findings=verified,
        rejected_findings=rejected,
        site_status=assessment.site_status if assessment else "unclear",
        business_summary=assessment.business_summary if assessment else "",
        reasons=outcome.reasons,
        engine=assessment.engine if assessment else ctx.assessor.engine,
        model=assessment.model if assessment else None,
        prompt_version=assessment.prompt_version if assessment else None,
        corpus_version=ctx.corpus.version,
        usage=assessment.usage if assessment else Usage(),
        error=state.get("error"),
        review_id=state.get("review_id"),
    )
    return {"verdict": verdict}


async def record(state: ReviewState, *, runtime: Runtime[ReviewContext]) -> Update:
    """Write the verdict to the audit log (also for a review that failed midway)."""
    ctx = runtime.context
    pages = state.get("pages", [])
    ctx.store.save_pages(state["review_id"], pages[state.get("pages_saved", 0) :])
    ctx.store.finish_review(state["review_id"], state["verdict"])
    return {"pages_saved": len(pages)}
