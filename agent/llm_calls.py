"""One chat-completions request: retried with tenacity, audited per attempt, usage summed.

The OpenAI client is built with max_retries=0: tenacity owns retries here so that every
attempt is audited, the wait is injectable (tests use no real waiting) and Retry-After is
honoured the same way for every OpenAI-compatible server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessage
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import WaitBaseT, wait_base, wait_none, wait_random_exponential

from agent import llm_usage
from agent.budget import before_model_call
from agent.llm_cache import ResponseCache, cache_key
from merchant_review.audit import AuditEvent, AuditSink, EventKind, sha256_of
from merchant_review.providers import profile_for
from merchant_review.settings import ModelSettings
from merchant_review.verdict import Usage

# Transient failures worth another attempt (APITimeoutError is an APIConnectionError;
# InternalServerError covers every 5xx status).
RETRYABLE: tuple[type[openai.OpenAIError], ...] = (
    openai.RateLimitError,
    openai.APIConnectionError,
    openai.InternalServerError,
)
MAX_RETRY_AFTER_S = 60.0  # a server asking for longer is treated as asking for this


class ModelCallError(Exception):
    """A model call failed for good: a non-retryable error, or retries exhausted."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """The delay a 429/503 response asks for (Retry-After-Ms or Retry-After), if any."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    delay: float | None = None
    try:
        if "retry-after-ms" in headers:
            delay = float(headers["retry-after-ms"]) / 1000
        elif "retry-after" in headers:
            delay = _seconds_from_retry_after(headers["retry-after"])
    except (TypeError, ValueError):
        return None  # unparsable header: best effort, fall back to backoff
    return None if delay is None else min(max(delay, 0.0), MAX_RETRY_AFTER_S)


def _seconds_from_retry_after(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        # An HTTP date (RFC 9110 allows both forms).
        when = parsedate_to_datetime(value)
        return (when - datetime.now(UTC)).total_seconds()


class RetryAfterWait(wait_base):
    """Wait what the server asked for (Retry-After), else the fallback backoff."""

    def __init__(self, fallback: WaitBaseT) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        asked = retry_after_seconds(outcome.exception() if outcome else None)
        return asked if asked is not None else float(self.fallback(retry_state))


def default_wait() -> wait_base:
    """Exponential backoff with full jitter (0.5 s base, 20 s cap), honouring Retry-After."""
    return RetryAfterWait(wait_random_exponential(multiplier=0.5, max=20))


@dataclass(frozen=True)
class RetryPolicy:
    """How to wait between attempts; tests inject a recording `sleep` or `no_wait()`."""

    wait: WaitBaseT = field(default_factory=default_wait)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @classmethod
    def no_wait(cls) -> RetryPolicy:
        return cls(wait=wait_none())


def message_record(message: ChatCompletionMessage) -> dict[str, Any]:
    """A response message as plain data: content and function tool calls."""
    calls = [
        {"id": call.id, "name": call.function.name, "arguments": call.function.arguments}
        for call in message.tool_calls or []
        if call.type == "function"
    ]
    return {"content": message.content, "tool_calls": calls}


def call_usage(body: dict[str, Any], completion: ChatCompletion) -> tuple[Usage, bool]:
    """The call's tokens from the server's usage field, else estimated (then True)."""
    usage = completion.usage
    if usage is not None:
        return Usage(
            llm_calls=1,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        ), False
    message = completion.choices[0].message if completion.choices else None
    completion_tokens = llm_usage.completion_tokens(message_record_raw(message)) if message else 0
    return Usage(
        llm_calls=1,
        prompt_tokens=llm_usage.prompt_tokens(body),
        completion_tokens=completion_tokens,
    ), True


def message_record_raw(message: ChatCompletionMessage) -> dict[str, Any]:
    """A response message in request form (content, tool_calls with function objects)."""
    return message.model_dump(mode="json", exclude_none=True)


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    prefix = f"HTTP {status} " if status else ""
    return f"{prefix}{type(exc).__name__}: {exc}"


class ModelCaller:
    """Sends chat-completions requests for one review and keeps its usage."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        settings: ModelSettings,
        audit: AuditSink,
        retry: RetryPolicy,
        cache: ResponseCache | None = None,
    ) -> None:
        self._client = client
        self._settings = settings
        self._audit = audit
        self._retry = retry
        self._cache = cache
        self._profile = profile_for(settings.provider)
        self.usage = Usage()
        self.cache_hits = 0

    def request_body(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None,
        tool_choice: str | dict[str, Any] | None,
        response_format: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The request as sent (and as stored for replay): a snapshot of the messages."""
        body: dict[str, Any] = {
            "model": self._settings.name,
            "messages": list(messages),
            "temperature": self._settings.temperature,
        }
        if self._settings.max_tokens is not None:
            body["max_tokens"] = self._settings.max_tokens
        if tools:
            body["tools"] = tools
            body["tool_choice"] = tool_choice or "auto"
            if self._profile.parallel_tool_calls:
                # Several lookups per turn save round trips; a forced verdict is one call.
                body["parallel_tool_calls"] = isinstance(body["tool_choice"], str)
        if response_format is not None:
            body["response_format"] = response_format
        return body

    async def complete(self, body: dict[str, Any], purpose: str) -> ChatCompletionMessage:
        """One logical call: attempts until success, a non-retryable error, or the limit.

        A request answered before (same model, same body) comes from the cache, if any.
        """
        key = cache_key(body)
        cached = self._cache.get(key) if self._cache is not None else None
        if cached is not None:
            return self._from_cache(body, purpose, cached)
        message = await self._call(body, purpose)
        return message

    def _from_cache(
        self, body: dict[str, Any], purpose: str, cached: dict[str, Any]
    ) -> ChatCompletionMessage:
        """A cached answer, audited as a model_call that charged no tokens."""
        started = time.perf_counter()
        completion = ChatCompletion.model_validate(cached)
        self.cache_hits += 1
        self._record(body, purpose, 0, started, completion=completion, cached=True)
        if not completion.choices:
            raise ModelCallError("the cached answer has no choices", attempts=0)
        return completion.choices[0].message

    async def _call(self, body: dict[str, Any], purpose: str) -> ChatCompletionMessage:
        attempts = 0

        async def attempt() -> ChatCompletion:
            nonlocal attempts
            attempts += 1
            return await self._attempt(body, purpose, attempts)

        # max_retries counts retries after the first attempt, as in the OpenAI client.
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.max_retries + 1),
            wait=self._retry.wait,
            sleep=self._retry.sleep,
            retry=retry_if_exception_type(RETRYABLE),
            reraise=True,
        )
        try:
            completion: ChatCompletion = await retrying(attempt)
        except openai.OpenAIError as exc:
            status = getattr(exc, "status_code", None)
            message = f"model call failed after {attempts} attempt(s): {_describe(exc)}"
            raise ModelCallError(message, status=status, attempts=attempts) from exc
        if not completion.choices:
            raise ModelCallError("the model returned no choices", attempts=attempts)
        if self._cache is not None:
            self._cache.put(cache_key(body), completion.model_dump(mode="json"))
        return completion.choices[0].message

    async def _attempt(self, body: dict[str, Any], purpose: str, attempt: int) -> ChatCompletion:
        before_model_call()  # the review's caps (agent/budget.py): raises once one is reached
        started = time.perf_counter()
        try:
            completion: ChatCompletion = await self._client.chat.completions.create(**body)
        except BaseException as exc:  # cancelled too (a review budget): the request went out
            self._record(body, purpose, attempt, started, error=exc)
            raise
        self._record(body, purpose, attempt, started, completion=completion)
        return completion

    def _record(
        self,
        body: dict[str, Any],
        purpose: str,
        attempt: int,
        started: float,
        *,
        completion: ChatCompletion | None = None,
        error: BaseException | None = None,
        cached: bool = False,
    ) -> None:
        """One MODEL_CALL event per attempt, with the full request and raw response.

        Tokens and latency are the attempt's own; a cache hit charges no tokens (what the
        original call used is kept in `cached_usage`).
        """
        message = completion.choices[0].message if completion and completion.choices else None
        usage, estimated = call_usage(body, completion) if completion else (Usage(), False)
        charged = Usage() if cached else usage
        if completion is not None and not cached:
            self.usage = self.usage.add(usage)
        self._audit.record(
            AuditEvent(
                kind=EventKind.MODEL_CALL,
                name="chat.completions.create",
                input={
                    "model": body["model"],
                    "messages_sha256": sha256_of(body["messages"]),
                    "message_count": len(body["messages"]),
                    "tool_choice": body.get("tool_choice"),
                    "purpose": purpose,
                    "attempt": attempt,
                    "cached": cached,
                },
                output=message_record(message) if message else None,
                latency_ms=(time.perf_counter() - started) * 1000,
                prompt_tokens=charged.prompt_tokens if completion else None,
                completion_tokens=charged.completion_tokens if completion else None,
                error=_describe(error) if error else None,
                extra={
                    "usage_estimated": estimated,
                    "cached_usage": usage.model_dump() if cached else None,
                    "request": body,
                    "response": completion.model_dump(mode="json") if completion else None,
                },
            )
        )
