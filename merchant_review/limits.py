"""Per-review resource caps beyond the crawl's own (pages and bytes: CrawlSettings).

A review of an attacker's site must end, and cost a bounded amount, whatever the site or
the model does: the whole review has a wall-time budget, the model a number of calls and
of tokens, the agent a number of extra page fetches. agent/budget.py enforces them; a
review that reaches one escalates with the cap named as its reason.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class ReviewLimits(BaseModel):
    # Wall time of the whole review. The crawl keeps to its own time_budget_s inside it;
    # the assessment gets what is left.
    time_budget_s: float = Field(default=300.0, gt=0)
    # Model requests of one review, retried attempts included (each one is sent and paid).
    max_model_calls: int = Field(default=30, ge=1)
    # Prompt + completion tokens of one review, all calls together.
    max_tokens: int = Field(default=250_000, ge=1_000)
    # Pages the agent may fetch with its fetch_page tool, beyond the crawl's max_pages.
    max_agent_fetches: int = Field(default=6, ge=0, le=50)
