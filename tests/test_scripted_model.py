"""The scripted model: valid chat.completion answers, loud failures, recorded requests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import openai
import pytest

from agent.scripted import Reply, ScriptedModel, ScriptError, Step, tool_choice_name

MESSAGES: list[Any] = [{"role": "user", "content": "hello"}]


async def ask(model: ScriptedModel, **extra: Any) -> Any:
    return await model.client().chat.completions.create(model="m", messages=MESSAGES, **extra)


async def test_a_tool_call_reply_is_a_valid_chat_completion_with_usage() -> None:
    model = ScriptedModel([ScriptedModel.tool_call("search_site_text", {"query": "THC"})])
    completion = await ask(model)
    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "tool_calls"
    (call,) = message.tool_calls
    assert call.function.name == "search_site_text"
    assert json.loads(call.function.arguments) == {"query": "THC"}
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    model.assert_done()


async def test_text_verdict_and_explicit_usage_replies() -> None:
    model = ScriptedModel(
        [
            Reply(content="plain words", usage=(120, 7)),
            ScriptedModel.submit_verdict(findings=[], confidence=0.5),
            ScriptedModel.malformed_verdict("{not json"),
            ScriptedModel.json_verdict(findings=[]),
        ]
    )
    text = await ask(model)
    assert text.choices[0].message.content == "plain words"
    assert (text.usage.prompt_tokens, text.usage.completion_tokens) == (120, 7)
    verdict = (await ask(model)).choices[0].message.tool_calls[0].function
    assert (verdict.name, json.loads(verdict.arguments)["confidence"]) == ("submit_verdict", 0.5)
    malformed = (await ask(model)).choices[0].message.tool_calls[0].function
    assert malformed.arguments == "{not json"
    assert json.loads((await ask(model)).choices[0].message.content) == {"findings": []}
    model.assert_done()


async def test_parallel_tool_calls_get_distinct_ids() -> None:
    model = ScriptedModel([ScriptedModel.tool_calls(("list_pages", {}), ("get_risk_figures", {}))])
    calls = (await ask(model)).choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["list_pages", "get_risk_figures"]
    assert len({c.id for c in calls}) == 2


async def test_an_error_reply_is_an_http_error_with_its_headers() -> None:
    model = ScriptedModel([ScriptedModel.error(429, {"retry-after": "3"}, "slow down")])
    with pytest.raises(openai.RateLimitError, match="slow down") as caught:
        await ask(model)
    assert caught.value.response.headers["retry-after"] == "3"
    model.assert_done()


async def test_an_unexpected_call_raises_and_is_recorded() -> None:
    model = ScriptedModel([ScriptedModel.text("only one")])
    await ask(model)
    with pytest.raises(ScriptError, match="script is exhausted"):
        await ask(model)
    with pytest.raises(ScriptError, match="unexpected call #2"):
        model.assert_done()


async def test_a_caught_failure_still_fails_assert_done() -> None:
    model = ScriptedModel()
    with contextlib.suppress(AssertionError):  # code under test swallowing the failure
        await ask(model)
    with pytest.raises(ScriptError, match="exhausted"):
        model.assert_done()


async def test_left_over_steps_fail_assert_done() -> None:
    model = ScriptedModel([ScriptedModel.text("a"), ScriptedModel.text("b")])
    await ask(model)
    assert model.remaining == 1
    with pytest.raises(ScriptError, match="1 step"):
        model.assert_done()


async def test_tool_choice_expectations() -> None:
    forced = {"type": "function", "function": {"name": "submit_verdict"}}
    tools = [{"type": "function", "function": {"name": "submit_verdict", "parameters": {}}}]
    model = ScriptedModel(
        [
            ScriptedModel.text("ok").expect(tool_choice="submit_verdict"),
            ScriptedModel.text("no").expect(tool_choice="submit_verdict"),
        ]
    )
    await ask(model, tools=tools, tool_choice=forced)
    with pytest.raises(ScriptError, match="expected tool_choice 'submit_verdict', got 'auto'"):
        await ask(model, tools=tools, tool_choice="auto")
    with pytest.raises(ScriptError):
        model.assert_done()


async def test_a_predicate_expectation() -> None:
    def has_two_messages(request: dict[str, Any]) -> bool:
        return len(request["messages"]) == 2

    model = ScriptedModel().add(ScriptedModel.text("x"), check=has_two_messages)
    with pytest.raises(ScriptError, match="has_two_messages"):
        await ask(model)


async def test_a_callable_step_answers_from_the_request() -> None:
    def echo(request: dict[str, Any]) -> Reply:
        return ScriptedModel.text(f"you said {request['messages'][-1]['content']}")

    model = ScriptedModel([echo, Step(echo, expect_tool_choice=None)])
    assert (await ask(model)).choices[0].message.content == "you said hello"
    assert (await ask(model)).choices[0].message.content == "you said hello"
    model.assert_done()


async def test_requests_are_recorded_as_sent() -> None:
    model = ScriptedModel([ScriptedModel.text("x")])
    await ask(model, temperature=0.0)
    (request,) = model.requests
    assert request["model"] == "m"
    assert request["messages"] == MESSAGES
    assert request["temperature"] == 0.0


async def test_delay_is_slept_per_call_through_the_injected_sleep() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    model = ScriptedModel(
        [ScriptedModel.text("a"), ScriptedModel.text("b")], delay_s=1.0, sleep=sleep
    )
    await ask(model)
    await ask(model)
    assert slept == [1.0, 1.0]


def test_tool_choice_name() -> None:
    assert tool_choice_name({}) is None
    assert tool_choice_name({"tool_choice": "auto"}) == "auto"
    forced = {"tool_choice": {"type": "function", "function": {"name": "submit_verdict"}}}
    assert tool_choice_name(forced) == "submit_verdict"


async def test_a_default_handler_serves_concurrent_callers() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    model = ScriptedModel(
        default=ScriptedModel.always_submit(findings=[]), delay_s=1.0, sleep=sleep
    )
    answers = await asyncio.gather(*(ask(model) for _ in range(5)))
    for completion in answers:
        assert completion.choices[0].message.tool_calls[0].function.name == "submit_verdict"
    json_mode = await ask(model, response_format={"type": "json_object"})
    assert json.loads(json_mode.choices[0].message.content) == {"findings": []}
    assert slept == [1.0] * 6
    model.assert_done()
