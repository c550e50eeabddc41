"""What a review's model use cost: tokens, calls, cache hits, latency, estimated dollars.

Read from the audit log's model_call events (one per attempt: its tokens, from the
server's usage field or a tiktoken estimate, and its latency); a call answered from the
response cache charges no tokens and is counted apart. Dollars come from the prices per
model in settings (`Settings.prices`), or are None when the model has no price there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from merchant_review.audit import EventKind
from merchant_review.providers import ModelPrice, estimated_cost


@dataclass(frozen=True)
class ReviewCost:
    calls: int  # attempts sent to the model server
    cached_calls: int  # requests answered from the response cache
    prompt_tokens: int
    completion_tokens: int
    model_ms: float  # time spent waiting for the model, summed over calls
    cost_usd: float | None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def describe(self) -> str:
        dollars = "price unknown" if self.cost_usd is None else f"${self.cost_usd:.6f}"
        cached = f", {self.cached_calls} from cache" if self.cached_calls else ""
        return (
            f"{self.calls} calls{cached}, {self.prompt_tokens} prompt + "
            f"{self.completion_tokens} completion tokens, {self.model_ms / 1000:.1f} s, {dollars}"
        )


def _is_cached(event: Any) -> bool:
    value = (event.input or {}).get("value") or {}
    return bool(value.get("cached"))


def review_cost(
    events: Iterable[Any], model: str | None, prices: dict[str, ModelPrice]
) -> ReviewCost:
    """The cost of one stored review's model calls (`events`: its audit event rows)."""
    calls = [e for e in events if e.kind == EventKind.MODEL_CALL.value]
    cached = [e for e in calls if _is_cached(e)]
    prompt = sum(e.prompt_tokens or 0 for e in calls)
    completion = sum(e.completion_tokens or 0 for e in calls)
    return ReviewCost(
        calls=len(calls) - len(cached),
        cached_calls=len(cached),
        prompt_tokens=prompt,
        completion_tokens=completion,
        model_ms=sum(e.latency_ms or 0.0 for e in calls if not _is_cached(e)),
        cost_usd=estimated_cost(prices, model, prompt, completion) if calls else 0.0,
    )
