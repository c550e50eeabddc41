"""Cost and efficiency of the LLM path, with the scripted model: usage (from the server or
estimated), the response cache, the retrieved-excerpt context, provider profiles, and the
cost figures of `show` and the eval report."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from agent import llm_usage
from agent.llm import LLMAssessor, RetryPolicy
from agent.llm_cache import MemoryResponseCache, cache_key
from agent.prompts import PromptSet
from agent.scripted import Reply, ScriptedModel
from evals import metrics
from evals.results import CaseResult
from merchant_review.audit import EventKind
from merchant_review.costs import review_cost
from merchant_review.pages import PageSnapshot
from merchant_review.providers import PROFILES, ModelPrice, Provider, estimated_cost
from merchant_review.settings import ModelSettings
from merchant_review.taxonomy import Decision
from tests.test_llm_agent import (
    GOOD_VERDICT,
    MODEL,
    SHOP,
    SITE,
    THC_QUOTE,
    Review,
    corpus,
    merchant,
    review,
    task_message,
)

__all__ = ["corpus", "merchant", "review"]  # fixtures used here


def assessor(
    model: ScriptedModel, cache: MemoryResponseCache | None = None, **settings: Any
) -> LLMAssessor:
    return LLMAssessor(
        model.client(),
        ModelSettings(name=MODEL, base_url="http://127.0.0.1:9/v1", **settings),
        PromptSet.load(),
        retry=RetryPolicy.no_wait(),
        cache=cache,
        rater=no_rating,  # the shipped snippet model is tested apart (it is retrained)
    )


def no_rating(texts: list[str]) -> list[float]:
    return [0.0 for _ in texts]


def verdict_call(**extra: Any) -> Reply:
    reply = ScriptedModel.submit_verdict(**GOOD_VERDICT)
    return Reply(tool_calls=reply.tool_calls, **extra)


# -- usage -----------------------------------------------------------------------------------


async def test_the_servers_usage_field_is_recorded(review: Review) -> None:
    model = ScriptedModel([verdict_call(usage=(1234, 56))])
    assessment = await assessor(model).assess(review.request, review.toolbox)
    (call,) = review.model_calls()
    assert (call.prompt_tokens, call.completion_tokens) == (1234, 56)
    assert call.extra["usage_estimated"] is False
    assert (assessment.usage.prompt_tokens, assessment.usage.completion_tokens) == (1234, 56)


async def test_usage_is_estimated_with_tiktoken_when_the_server_sends_none(review: Review) -> None:
    model = ScriptedModel([verdict_call(send_usage=False)])
    assessment = await assessor(model).assess(review.request, review.toolbox)
    (call,) = review.model_calls()
    assert call.extra["usage_estimated"] is True
    expected = llm_usage.prompt_tokens(call.extra["request"])
    assert call.prompt_tokens == expected and expected > 1000  # system, tools, task
    assert call.completion_tokens == llm_usage.completion_tokens(
        call.extra["response"]["choices"][0]["message"]
    )
    assert call.completion_tokens > 50  # the verdict's JSON arguments
    assert assessment.usage.prompt_tokens == expected


def test_token_counts_are_cl100k() -> None:
    assert llm_usage.count_tokens("hello world") == 2
    assert llm_usage.count_tokens("<|endoftext|>") > 1  # special text is plain text here


# -- response cache --------------------------------------------------------------------------


async def test_a_repeated_review_is_answered_from_the_cache(
    corpus: Any, merchant: Any, review: Review
) -> None:
    cache = MemoryResponseCache()
    first = ScriptedModel(
        [ScriptedModel.tool_call("search_site_text", {"query": "THC"}), verdict_call()]
    )
    original = await assessor(first, cache).assess(review.request, review.toolbox)
    assert len(cache.entries) == 2
    assert all(key.startswith(f"{MODEL}:") for key in cache.entries)

    again = Review(corpus, merchant)
    silent = ScriptedModel([])  # any call to the model fails the test
    replayed = await assessor(silent, cache).assess(again.request, again.toolbox)
    silent.assert_done()
    assert replayed.findings == original.findings
    assert replayed.usage.llm_calls == 0 and replayed.usage.tokens == 0
    calls = again.model_calls()
    assert len(calls) == 2 and all(c.input["cached"] for c in calls)
    assert all(c.prompt_tokens == 0 and c.completion_tokens == 0 for c in calls)
    assert all(c.extra["cached_usage"]["prompt_tokens"] > 0 for c in calls)


async def test_a_changed_prompt_misses_the_cache(review: Review) -> None:
    cache = MemoryResponseCache()
    await assessor(ScriptedModel([verdict_call()]), cache).assess(review.request, review.toolbox)
    review.pages[1] = PageSnapshot(url=SHOP, requested_url=SHOP, status=200, text="Teas only.")
    model = ScriptedModel([verdict_call()])
    await assessor(model, cache).assess(review.request, review.toolbox)
    model.assert_done()  # the changed page text reached the model
    assert len(cache.entries) == 2


def test_the_cache_key_covers_the_whole_request() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0}
    assert cache_key(body) != cache_key({**body, "temperature": 0.5})
    assert cache_key(body) != cache_key({**body, "model": "other"})
    assert cache_key(body) == cache_key(dict(reversed(body.items())))


# -- context: retrieved excerpts, not whole sites ----------------------------------------------


async def test_the_agent_sees_excerpts_with_the_evidence_not_whole_pages(review: Review) -> None:
    filler = " ".join(f"Our blend number {n} is a calm herbal tea." for n in range(300))
    review.pages.append(
        PageSnapshot(url=f"{SITE}teas", requested_url=f"{SITE}teas", status=200, text=filler)
    )
    whole = ScriptedModel([verdict_call()])
    await assessor(whole, context="pages").assess(review.request, review.toolbox)
    excerpts = ScriptedModel([verdict_call()])
    await assessor(excerpts, evidence_chars=600).assess(review.request, review.toolbox)
    task = task_message(excerpts)
    assert THC_QUOTE in task  # the snippet that meets the rule's indicator
    assert f'<untrusted_page url="{SHOP}">' in task
    assert "\n/teas (untitled)\n" in task  # the outline names every page, for fetch_page
    assert "blend number 100 " in task_message(whole) and "blend number 100 " not in task
    assert len(task) < len(task_message(whole)) / 3


async def test_snippets_the_snippet_model_rates_as_evidence_join_the_excerpts(
    review: Review,
) -> None:
    euphemism = "Novelty IDs scan at bars, pass UV light checks."
    filler = "\n".join(f"Blend {n} is a calm herbal tea for the evening." for n in range(80))
    terms = f"{SITE}terms"
    review.pages.append(
        PageSnapshot(url=terms, requested_url=terms, status=200, text=f"{filler}\n{euphemism}")
    )

    def rater(texts: list[str]) -> list[float]:  # stands in for the trained snippet model
        return [0.9 if "novelty ids" in text.lower() else 0.1 for text in texts]

    plain = ScriptedModel([verdict_call()])
    await assessor(plain, evidence_chars=400).assess(review.request, review.toolbox)
    assert euphemism not in task_message(plain)  # no indicator, no rule words: not retrieved
    rated = ScriptedModel([verdict_call()])
    model_settings = ModelSettings(name=MODEL, base_url="http://127.0.0.1:9/v1", evidence_chars=400)
    agent = LLMAssessor(rated.client(), model_settings, PromptSet.load(), rater=rater)
    await agent.assess(review.request, review.toolbox)
    assert euphemism in task_message(rated)


# -- provider profiles -------------------------------------------------------------------------


@pytest.mark.parametrize("provider", list(Provider))
async def test_each_provider_gets_its_best_verdict_mode(provider: Provider, review: Review) -> None:
    profile = PROFILES[provider]
    model = ScriptedModel(
        [ScriptedModel.text("thinking"), ScriptedModel.always_submit(**GOOD_VERDICT)]
    )
    assessment = await assessor(model, provider=provider, step_budget=1).assess(
        review.request, review.toolbox
    )
    model.assert_done()
    assert assessment.findings  # the verdict came through whichever mode was used
    auto, final = model.requests
    assert auto["tool_choice"] == "auto"
    assert auto.get("parallel_tool_calls") is (True if profile.parallel_tool_calls else None)
    if profile.named_tool_choice:
        assert final["tool_choice"] == {"type": "function", "function": {"name": "submit_verdict"}}
        assert final.get("parallel_tool_calls") is (False if profile.parallel_tool_calls else None)
    elif profile.json_schema:
        assert "tools" not in final
        assert final["response_format"]["type"] == "json_schema"
        assert final["response_format"]["json_schema"]["name"] == "submit_verdict"
    else:
        assert final["response_format"]["type"] == "json_object"


@pytest.mark.parametrize("provider", list(Provider))
async def test_after_a_text_answer_tool_use_is_required_where_supported(
    provider: Provider, review: Review
) -> None:
    model = ScriptedModel(
        [
            ScriptedModel.text("let me think"),
            ScriptedModel.tool_call("list_pages"),
            ScriptedModel.always_submit(**GOOD_VERDICT),
        ]
    )
    await assessor(model, provider=provider, step_budget=4).assess(review.request, review.toolbox)
    model.assert_done()
    expected = "required" if PROFILES[provider].required_tool_choice else "auto"
    # Once the model drifted into text, every later turn requires a tool where it can.
    assert [r["tool_choice"] for r in model.requests] == ["auto", expected, expected]


def test_profiles_say_what_each_server_supports() -> None:
    assert PROFILES[Provider.LLAMACPP].best_verdict_via() == "tool"
    assert not PROFILES[Provider.LLAMACPP].json_schema  # llama.cpp answers 500
    assert PROFILES[Provider.OLLAMA].best_verdict_via() == "json_schema"
    assert PROFILES[Provider.OPENAI].parallel_tool_calls


async def test_an_explicit_verdict_mode_wins_over_the_profile(review: Review) -> None:
    model = ScriptedModel([ScriptedModel.text("x"), ScriptedModel.always_submit(**GOOD_VERDICT)])
    await assessor(
        model, provider=Provider.OPENAI, verdict_via="json_object", step_budget=1
    ).assess(review.request, review.toolbox)
    assert model.requests[-1]["response_format"]["type"] == "json_object"


async def test_max_tokens_is_sent_when_set(review: Review) -> None:
    model = ScriptedModel([verdict_call()])
    await assessor(model, max_tokens=321).assess(review.request, review.toolbox)
    assert model.requests[0]["max_tokens"] == 321


# -- cost figures --------------------------------------------------------------------------------


def event_row(prompt: int, completion: int, ms: float, cached: bool = False) -> Any:
    value = {"purpose": "agent_step", "cached": cached}
    return SimpleNamespace(
        kind=EventKind.MODEL_CALL.value,
        input={"value": value},
        prompt_tokens=prompt,
        completion_tokens=completion,
        latency_ms=ms,
    )


def test_a_reviews_cost_from_its_audit_events() -> None:
    prices = {"gpt-x": ModelPrice(prompt_per_mtok=2.0, completion_per_mtok=8.0)}
    events = [event_row(1000, 100, 500), event_row(2000, 50, 700), event_row(0, 0, 1, True)]
    cost = review_cost(events, "gpt-x", prices)
    assert (cost.calls, cost.cached_calls, cost.tokens) == (2, 1, 3150)
    assert cost.cost_usd == pytest.approx((3000 * 2.0 + 150 * 8.0) / 1e6)
    assert cost.model_ms == 1200
    assert "$0.007200" in cost.describe()
    assert review_cost(events, "unpriced", prices).cost_usd is None


def test_the_eval_report_gives_tokens_and_cost_per_review() -> None:
    def case(tokens: int, cost: float | None) -> CaseResult:
        return CaseResult(
            case_id=f"c{tokens}",
            expected_decision=Decision.APPROVE,
            decision=Decision.APPROVE,
            tokens=tokens,
            prompt_tokens=tokens - 10,
            completion_tokens=10,
            cost_usd=cost,
        )

    figures = metrics.cost([case(1000, 0.002), case(3000, 0.004)])
    assert figures["tokens_per_review"] == 2000
    assert figures["cost_usd_per_review"] == pytest.approx(0.003)
    assert metrics.cost([case(1000, None)])["cost_usd"] is None
    assert estimated_cost({}, "m", 10, 10) is None


async def test_show_prints_a_stored_reviews_model_cost(tmp_path: Any) -> None:
    from rich.console import Console

    from merchant_review.render import print_stored_review
    from merchant_review.sitehost import SiteHost
    from tests.reviewsite import HOST, SITES, thc_corpus
    from tests.test_review_llm import review_setup, run_review

    with SiteHost({HOST: SITES / HOST}) as host:
        settings, store = review_setup(tmp_path, host)
        model = ScriptedModel(
            [ScriptedModel.tool_call("list_pages"), verdict_call(usage=(3000, 200))]
        )
        verdict = await run_review(model, settings, store, thc_corpus())
    stored = store.get_review(verdict.review_id or "")
    assert stored is not None
    prices = {"scripted": ModelPrice(prompt_per_mtok=1.0, completion_per_mtok=5.0)}
    console = Console(record=True, width=200)
    print_stored_review(stored, console, prices)
    text = console.export_text()
    calls = [e for e in stored.events if e.kind == EventKind.MODEL_CALL.value]
    prompt = sum(e.prompt_tokens or 0 for e in calls)
    expected = (prompt * 1.0 + sum(e.completion_tokens or 0 for e in calls) * 5.0) / 1e6
    assert f"model cost  2 calls, {prompt} prompt" in text
    assert f"${expected:.6f}" in text
