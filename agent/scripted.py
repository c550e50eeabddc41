"""A scripted, OpenAI-compatible chat-completions endpoint for tests and CI plumbing gates.

`ScriptedModel` answers each request with the next step of a script: a canned `Reply`
(tool calls, text, a malformed verdict, an HTTP error) or a function of the request JSON
(dynamic scripts). Steps may carry expectations about the request (the tool_choice, a
predicate). It runs in-process through `httpx2.MockTransport`: no socket is opened.

It fails loudly. An unexpected call (script exhausted, and no `default` handler given)
or an unmet expectation raises
`ScriptError` (an AssertionError) out of the client call, so the test sees it, and is
also recorded so that `assert_done()` re-raises it even when the code under test caught
the exception. `assert_done()` also fails on steps left over.

Every request body is kept in `requests`, so tests can assert on what the model was
shown. `delay_s` sleeps (asyncio) before each answer, for latency-bound benchmarks; with
`default=ScriptedModel.always_submit(**verdict)` one model serves any number of
(concurrent) reviews, since an ordered script cannot be shared between them.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeAlias

import httpx2
import openai

Request: TypeAlias = dict[str, Any]
Handler: TypeAlias = Callable[[Request], "Reply"]
Check: TypeAlias = Callable[[Request], bool]

SCRIPTED_BASE_URL = "http://127.0.0.1:9/v1"  # never contacted: the mock transport answers


class ScriptError(AssertionError):
    """The code under test called the scripted model in a way the script did not expect."""


def _estimate_tokens(text: str) -> int:
    # Deterministic stand-in for a tokenizer: about four characters per token.
    return max(1, len(text) // 4)


@dataclass(frozen=True)
class Reply:
    """One canned answer: an assistant message, or an HTTP error status."""

    content: str | None = None
    tool_calls: tuple[tuple[str, str], ...] = ()  # (function name, raw JSON arguments)
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    error_message: str = ""
    usage: tuple[int, int] | None = None  # (prompt, completion) tokens; default: estimated
    send_usage: bool = True  # False: no usage field, as some servers answer

    def expect(self, *, tool_choice: str | None = None, check: Check | None = None) -> Step:
        """This reply as a step that first checks the request."""
        return Step(self, expect_tool_choice=tool_choice, check=check)

    def response(self, request: Request, number: int) -> httpx2.Response:
        if self.status != 200:
            body = {"error": {"message": self.error_message or f"scripted HTTP {self.status}"}}
            return httpx2.Response(self.status, json=body, headers=dict(self.headers))
        return httpx2.Response(200, json=self._completion(request, number))

    def _completion(self, request: Request, number: int) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{number}_{index}",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
                for index, (name, arguments) in enumerate(self.tool_calls)
            ]
        prompt, completion = self.usage or (
            _estimate_tokens(json.dumps(request.get("messages", []))),
            _estimate_tokens(json.dumps(message)),
        )
        completion_body: dict[str, Any] = {
            "id": f"chatcmpl-scripted-{number}",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", "scripted"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if self.tool_calls else "stop",
                    "logprobs": None,
                }
            ],
        }
        if self.send_usage:
            completion_body["usage"] = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        return completion_body


def tool_choice_name(request: Request) -> str | None:
    """The request's tool_choice as a name.

    "auto", "required", "none", a forced function's name, or None when none was sent.
    """
    choice = request.get("tool_choice")
    if isinstance(choice, dict):
        function = choice.get("function") or {}
        return str(function.get("name")) if function.get("name") else None
    return None if choice is None else str(choice)


@dataclass(frozen=True)
class Step:
    """A reply (or a handler making one from the request) and what the request must be."""

    reply: Reply | Handler
    expect_tool_choice: str | None = None
    check: Check | None = None

    def problem(self, request: Request) -> str | None:
        """Why the request does not meet this step's expectations, or None."""
        if self.expect_tool_choice is not None:
            actual = tool_choice_name(request)
            if actual != self.expect_tool_choice:
                return f"expected tool_choice {self.expect_tool_choice!r}, got {actual!r}"
        if self.check is not None and not self.check(request):
            name = getattr(self.check, "__name__", repr(self.check))
            return f"request failed the check {name}"
        return None

    def answer(self, request: Request) -> Reply:
        return self.reply(request) if callable(self.reply) else self.reply


class ScriptedModel:
    """An ordered script of chat-completions answers, served through a mock transport."""

    def __init__(
        self,
        steps: Iterable[Step | Reply | Handler] = (),
        *,
        default: Handler | None = None,
        delay_s: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._steps: deque[Step] = deque()
        self.default = default  # answers once the script is exhausted, if given
        self.requests: list[Request] = []
        self.failures: list[str] = []
        self.delay_s = delay_s
        self._sleep = sleep
        for step in steps:
            self.add(step)

    def add(
        self,
        step: Step | Reply | Handler,
        *,
        expect_tool_choice: str | None = None,
        check: Check | None = None,
    ) -> ScriptedModel:
        """Append a step (expectations given here apply to a bare reply or handler)."""
        if not isinstance(step, Step):
            step = Step(step, expect_tool_choice=expect_tool_choice, check=check)
        self._steps.append(step)
        return self

    # -- canned replies --------------------------------------------------------------------

    @staticmethod
    def tool_call(name: str, args: Mapping[str, Any] | None = None) -> Reply:
        return Reply(tool_calls=((name, json.dumps(dict(args or {}))),))

    @staticmethod
    def tool_calls(*calls: tuple[str, Mapping[str, Any]]) -> Reply:
        """Several tool calls in one assistant message (parallel calls)."""
        return Reply(tool_calls=tuple((name, json.dumps(dict(args))) for name, args in calls))

    @staticmethod
    def submit_verdict(**verdict: Any) -> Reply:
        return Reply(tool_calls=(("submit_verdict", json.dumps(verdict)),))

    @staticmethod
    def malformed_verdict(arguments: str = "{not json") -> Reply:
        """A submit_verdict call whose arguments are given raw (bad JSON, bad fields)."""
        return Reply(tool_calls=(("submit_verdict", arguments),))

    @staticmethod
    def json_verdict(**verdict: Any) -> Reply:
        """A verdict as message content, as a JSON-mode (response_format) answer."""
        return Reply(content=json.dumps(verdict))

    @staticmethod
    def always_submit(**verdict: Any) -> Handler:
        """A handler that submits `verdict` as JSON content in JSON mode, else by tool."""

        def submit(request: Request) -> Reply:
            if "response_format" in request:
                return ScriptedModel.json_verdict(**verdict)
            return ScriptedModel.submit_verdict(**verdict)

        return submit

    @staticmethod
    def text(content: str) -> Reply:
        return Reply(content=content)

    @staticmethod
    def error(
        status: int = 429, headers: Mapping[str, str] | None = None, message: str = ""
    ) -> Reply:
        return Reply(status=status, headers=dict(headers or {}), error_message=message)

    # -- serving ---------------------------------------------------------------------------

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self._handle)

    def client(self) -> openai.AsyncOpenAI:
        """An AsyncOpenAI client talking to this script (its own retries off)."""
        return openai.AsyncOpenAI(
            api_key="scripted",
            base_url=SCRIPTED_BASE_URL,
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=self.transport()),
        )

    async def _handle(self, http_request: httpx2.Request) -> httpx2.Response:
        number = len(self.requests) + 1
        try:
            request: Request = json.loads(http_request.content or b"{}")
        except json.JSONDecodeError:
            self._fail(f"call #{number}: the request body is not JSON")
        self.requests.append(request)
        if self.delay_s:
            await self._sleep(self.delay_s)
        if not http_request.url.path.endswith("/chat/completions"):
            self._fail(f"call #{number}: unexpected endpoint {http_request.url.path}")
        if not self._steps:
            if self.default is None:
                self._fail(f"unexpected call #{number}: the script is exhausted")
            return self.default(request).response(request, number)
        step = self._steps.popleft()
        if problem := step.problem(request):
            self._fail(f"call #{number}: {problem}")
        return step.answer(request).response(request, number)

    def _fail(self, message: str) -> NoReturn:
        failure = f"scripted model: {message}"
        self.failures.append(failure)
        raise ScriptError(failure)

    # -- checks ----------------------------------------------------------------------------

    @property
    def remaining(self) -> int:
        return len(self._steps)

    def assert_done(self) -> None:
        """Fail on any recorded failure or on steps the code under test never used."""
        if self.failures:
            raise ScriptError("; ".join(self.failures))
        if self._steps:
            raise ScriptError(f"scripted model: {len(self._steps)} step(s) left unused")
