"""The agent loop of one LLM review: investigate with tools, then obtain a valid verdict.

Budget: `step_budget` counts tool calls the agent makes (one step each, unknown tools
included) and plain-text turns (one step each); submit_verdict is free. While steps
remain the model is called with tool_choice "auto". A plain-text answer earns one
reminder to use submit_verdict; a second one, or an exhausted budget, leads to the final
call, which forces the verdict: tool_choice = submit_verdict, or (verdict_via
"json_object") no tools and response_format {"type": "json_object", "schema": ...}, the
form llama.cpp honours. A verdict that fails validation is sent back once with the
error; a second failure ends the review with the error (LLMAssessor escalates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

from openai.types.chat import ChatCompletionMessage, ChatCompletionMessageFunctionToolCall

from agent.llm_calls import ModelCaller
from agent.llm_context import tool_result_message
from agent.llm_schema import (
    SUBMIT_VERDICT,
    SubmittedVerdict,
    VerdictError,
    parse_verdict,
    verdict_schema,
    verdict_schema_json,
    verdict_tool_spec,
    wire_schema,
)
from agent.prompts import PromptSet
from merchant_review.providers import VerdictVia, profile_for
from merchant_review.settings import ModelSettings
from tools.toolbox import ReviewToolbox

FORCED_VERDICT: dict[str, Any] = {"type": "function", "function": {"name": SUBMIT_VERDICT}}
NOT_RUN_BUDGET = {"error": "not run: the step budget is used up"}
NOT_RUN_VERDICT = {"error": "not run: only submit_verdict is expected now"}


@dataclass
class Candidate:
    """A verdict the model offered (raw JSON) and the tool calls awaiting an answer."""

    raw: str | None
    call_id: str | None = None  # the submit_verdict call it came in (tool mode)
    missing: str | None = None  # why there is no verdict at all, if so
    unanswered: list[str] = field(default_factory=list)


def function_calls(message: ChatCompletionMessage) -> list[ChatCompletionMessageFunctionToolCall]:
    return [
        call
        for call in message.tool_calls or []
        if isinstance(call, ChatCompletionMessageFunctionToolCall)
    ]


def assistant_message(message: ChatCompletionMessage) -> dict[str, Any]:
    """The model's reply as it goes back into the conversation."""
    calls = [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.function.name, "arguments": call.function.arguments},
        }
        for call in function_calls(message)
    ]
    if calls:
        # llama.cpp's chat templates fail on a null content beside tool calls.
        return {"role": "assistant", "content": message.content or "", "tool_calls": calls}
    return {"role": "assistant", "content": message.content or ""}


def wire_tool(spec: dict[str, Any]) -> dict[str, Any]:
    """A tool definition with its parameters' schema as sent (no titles: tokens)."""
    function = spec["function"]
    return {**spec, "function": {**function, "parameters": wire_schema(function["parameters"])}}


# The tool definitions a toolbox class offers, as sent: the same for every review, so built
# once per process (issue 6 measured ~5% of an LLM review's CPU in rebuilding them).
_OFFERED: dict[type[ReviewToolbox], list[dict[str, Any]]] = {}
# Tools whose answer the task message already holds (the crawl's page list, the declared
# record): offering them would resend their definitions with every request for nothing.
# A model that calls one anyway is answered like any other call.
NOT_OFFERED = frozenset({"list_pages", "get_merchant_profile"})


def offered_tools(toolbox: ReviewToolbox) -> list[dict[str, Any]]:
    """The toolbox's tools and submit_verdict, as sent (shared: never mutate it)."""
    kind = type(toolbox)
    if kind not in _OFFERED:
        offered = [spec for spec in toolbox.specs() if spec["function"]["name"] not in NOT_OFFERED]
        _OFFERED[kind] = [*map(wire_tool, offered), verdict_tool_spec()]
    return _OFFERED[kind]


def verdict_via(settings: ModelSettings) -> VerdictVia:
    """The configured verdict mode, else the best one the provider's profile offers."""
    if settings.verdict_via in ("tool", "json_schema", "json_object"):
        return cast(VerdictVia, settings.verdict_via)
    return profile_for(settings.provider).best_verdict_via()


def verdict_format(via: VerdictVia) -> dict[str, Any]:
    """The response_format of a JSON-mode verdict call."""
    if via == "json_schema":
        schema = {"name": SUBMIT_VERDICT, "schema": verdict_schema()}
        return {"type": "json_schema", "json_schema": schema}
    # llama.cpp's form: json_object constrained by a schema (json_schema is refused there).
    return {"type": "json_object", "schema": verdict_schema()}


class Conversation:
    """One review's messages, tools and remaining budget."""

    def __init__(
        self,
        *,
        caller: ModelCaller,
        toolbox: ReviewToolbox,
        prompts: PromptSet,
        settings: ModelSettings,
        messages: list[dict[str, Any]],
    ) -> None:
        self.caller = caller
        self.toolbox = toolbox
        self.prompts = prompts
        self.messages = messages
        self.tools = offered_tools(toolbox)
        self.settings = settings
        self.steps_left = settings.step_budget
        self.via = verdict_via(settings)
        self._reminded = False

    async def run(self) -> SubmittedVerdict | VerdictError:
        """Investigate, then return a validated verdict or the error of the last attempt."""
        candidate = await self._investigate()
        if candidate is None:
            self._say(self.prompts.final_call(self.via, verdict_schema_json()))
            candidate = await self._ask_for_verdict("final_verdict")
        try:
            return _parse(candidate)
        except VerdictError as first:
            self._send_back(candidate, str(first))
        try:
            return _parse(await self._ask_for_verdict("verdict_retry"))
        except VerdictError as second:
            return second

    # -- investigation ---------------------------------------------------------------------

    async def _investigate(self) -> Candidate | None:
        """Auto tool-choice turns until a verdict is offered or the budget runs out."""
        while self.steps_left > 0:
            body = self.caller.request_body(
                self.messages, tools=self.tools, tool_choice=self._turn_choice()
            )
            message = await self.caller.complete(body, "agent_step")
            self.messages.append(assistant_message(message))
            calls = function_calls(message)
            if not calls:
                self.steps_left -= 1
                # No reminder when the final call follows anyway: some chat templates
                # (llama.cpp) reject two user messages in a row.
                if self._reminded or self.steps_left <= 0:
                    return None
                self._reminded = True
                self._say(self.prompts.submit_reminder())
                continue
            verdict_call = await self._run_tools(calls)
            if verdict_call is not None:
                return Candidate(raw=verdict_call.function.arguments, call_id=verdict_call.id)
        return None

    def _turn_choice(self) -> str:
        """ "auto"; after a plain-text answer, "required" where the server supports it."""
        if self._reminded and profile_for(self.settings.provider).required_tool_choice:
            return "required"
        return "auto"

    async def _run_tools(
        self, calls: list[ChatCompletionMessageFunctionToolCall]
    ) -> ChatCompletionMessageFunctionToolCall | None:
        """Run the turn's tool calls in order, within budget; return its submit_verdict call."""
        verdict_call = None
        for call in calls:
            if call.function.name == SUBMIT_VERDICT:
                if verdict_call is None:
                    verdict_call = call  # answered only if it needs a retry
                else:
                    self._answer(call.id, {"error": "only the first submit_verdict is read"})
                continue
            if self.steps_left <= 0:
                self._answer(call.id, NOT_RUN_BUDGET)
                continue
            self.steps_left -= 1
            self._answer(call.id, await self._run_tool(call))
        return verdict_call

    async def _run_tool(self, call: ChatCompletionMessageFunctionToolCall) -> dict[str, Any]:
        try:
            arguments = json.loads(call.function.arguments or "{}")
        except json.JSONDecodeError as exc:
            return {"error": f"arguments are not valid JSON: {exc}"}
        if not isinstance(arguments, dict):
            return {"error": "arguments must be a JSON object"}
        # Unknown names come back from the toolbox as {"error": ...}, audited there.
        return await self.toolbox.call(call.function.name, arguments)

    # -- the verdict -----------------------------------------------------------------------

    async def _ask_for_verdict(self, purpose: str) -> Candidate:
        """A call that can only answer with a verdict (forced tool, or JSON mode)."""
        if self.via == "tool":
            body = self.caller.request_body(
                self.messages, tools=self.tools, tool_choice=FORCED_VERDICT
            )
        else:
            # Servers refuse tools together with a schema; the schema constrains output.
            body = self.caller.request_body(
                self.messages,
                tools=None,
                tool_choice=None,
                response_format=verdict_format(self.via),
            )
        message = await self.caller.complete(body, purpose)
        self.messages.append(assistant_message(message))
        return self._candidate(message)

    def _candidate(self, message: ChatCompletionMessage) -> Candidate:
        calls = function_calls(message)
        verdict = next((c for c in calls if c.function.name == SUBMIT_VERDICT), None)
        others = [c.id for c in calls if c is not verdict]
        if self.via != "tool" and verdict is None:
            return Candidate(raw=message.content, unanswered=others)
        if verdict is None:
            missing = "the reply did not call submit_verdict"
            return Candidate(raw=None, missing=missing, unanswered=others)
        return Candidate(raw=verdict.function.arguments, call_id=verdict.id, unanswered=others)

    def _send_back(self, candidate: Candidate, error: str) -> None:
        """Tell the model why its verdict failed, answering every open tool call first."""
        for call_id in candidate.unanswered:
            self._answer(call_id, NOT_RUN_VERDICT)
        text = self.prompts.invalid_verdict(error, self.via)
        if candidate.call_id is not None:
            self._answer(candidate.call_id, text)
        else:
            self._say(text)

    # -- messages --------------------------------------------------------------------------

    def _answer(self, call_id: str, result: Any) -> None:
        self.messages.append(tool_result_message(call_id, result))

    def _say(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})


def _parse(candidate: Candidate) -> SubmittedVerdict:
    if candidate.missing is not None:
        raise VerdictError(candidate.missing)
    return parse_verdict(candidate.raw)
