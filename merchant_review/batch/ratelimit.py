"""The rate limit on model calls, and the assessor a batch run uses.

`--rate 10/s` (or 600/min, 36000/h; a bare number is per second) limits the requests a
process sends to the model server: every chat-completions request waits for the leaky
bucket (aiolimiter) in the HTTP transport under the OpenAI client, so retries count too.
The offline engine makes no model calls and is not limited.
"""

from __future__ import annotations

import re

import httpx2
from aiolimiter import AsyncLimiter

from agent.assessor import Assessor
from merchant_review.settings import EngineChoice, Settings

PERIODS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*([a-z]+))?\s*$")


class RateError(ValueError):
    """The rate is not of the form N, N/s, N/min or N/h."""


def parse_rate(text: str) -> tuple[float, float]:
    """(calls, period in seconds) of a rate such as "10/s" or "600/min"."""
    match = _RATE.match(text.lower())
    period = PERIODS.get(match.group(2) or "s") if match else None
    if match is None or period is None or float(match.group(1)) <= 0:
        raise RateError(f"invalid rate {text!r}: use N/s, N/min or N/h (N > 0)")
    return float(match.group(1)), period


def limiter(rate: str | None) -> AsyncLimiter | None:
    """A leaky bucket for the rate (None: no limit)."""
    if rate is None:
        return None
    calls, period = parse_rate(rate)
    return AsyncLimiter(calls, period)


class RateLimitedTransport(httpx2.AsyncBaseTransport):
    """An HTTP transport whose every request first waits for the limiter."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, bucket: AsyncLimiter) -> None:
        self._inner = inner
        self._bucket = bucket

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await self._bucket.acquire()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def limited_http_client(
    bucket: AsyncLimiter, inner: httpx2.AsyncBaseTransport | None = None, timeout_s: float = 60.0
) -> httpx2.AsyncClient:
    """An httpx2 client for the OpenAI client, rate-limited (`inner`: the real transport)."""
    return httpx2.AsyncClient(
        transport=RateLimitedTransport(inner or httpx2.AsyncHTTPTransport(), bucket),
        timeout=timeout_s,
        limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100),
        follow_redirects=True,
    )


def batch_assessor(settings: Settings, bucket: AsyncLimiter | None) -> Assessor:
    """The assessor the settings ask for, its model calls rate-limited by `bucket`."""
    from agent.engines import assessor_for, offline_assessor

    engine = settings.resolved_engine()
    if bucket is None or engine is EngineChoice.OFFLINE:
        return assessor_for(settings)
    from agent.cascade import CascadeAssessor
    from agent.engines import EngineConfigError
    from agent.llm import LLMAssessor, make_openai_client
    from agent.prompts import PromptSet

    if not settings.model.configured:
        raise EngineConfigError(
            f"the {engine.value} engine needs a model: set --model and --model-base-url"
        )
    client = make_openai_client(
        settings.model, limited_http_client(bucket, timeout_s=settings.model.timeout_s)
    )
    model = LLMAssessor(
        client,
        settings.model,
        PromptSet.load(settings.prompts_dir),
        include_personal=settings.share_personal_data_with_model,
    )
    if engine is EngineChoice.LLM:
        return model
    return CascadeAssessor(offline_assessor(settings), model, settings)
