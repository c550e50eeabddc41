"""What each kind of OpenAI-compatible server supports, and the model prices for cost.

The chat-completions protocol is shared, its optional parts are not. A profile records
what one kind of server does, so the agent uses the best mode it offers:

- the verdict: a forced `tool_choice` naming submit_verdict where it is honoured (the
  arguments are then constrained by the tool's schema); else `response_format`
  json_schema; else llama.cpp's json_object with a "schema" key;
- `parallel_tool_calls`: sent only to servers that accept the parameter (several tool
  calls per turn save round trips, so tokens: every turn resends the conversation).

Sources: the providers' API references (OpenAI, Azure OpenAI, vLLM's OpenAI-compatible
server, Ollama's OpenAI compatibility page) and, for llama.cpp, what the llama-cpp-python
server was seen to do here (tests/test_real_model.py): named tool_choice honoured,
json_object+schema honoured, json_schema refused with HTTP 500.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

VerdictVia = Literal["tool", "json_schema", "json_object"]


class Provider(StrEnum):
    OPENAI = "openai"
    AZURE = "azure"
    VLLM = "vllm"
    OLLAMA = "ollama"
    LLAMACPP = "llamacpp"


class ProviderProfile(BaseModel, frozen=True):
    """The optional protocol features one kind of server supports."""

    named_tool_choice: bool  # tool_choice {"type": "function", "function": {"name": ...}}
    required_tool_choice: bool  # tool_choice "required"
    json_schema: bool  # response_format {"type": "json_schema", "json_schema": {...}}
    json_object_schema: bool  # response_format {"type": "json_object", "schema": {...}}
    parallel_tool_calls: bool  # accepts the parallel_tool_calls parameter

    def best_verdict_via(self) -> VerdictVia:
        """The most constrained way this server offers to obtain a schema-valid verdict."""
        if self.named_tool_choice:
            return "tool"
        if self.json_schema:
            return "json_schema"
        return "json_object"


PROFILES: dict[Provider, ProviderProfile] = {
    Provider.OPENAI: ProviderProfile(
        named_tool_choice=True,
        required_tool_choice=True,
        json_schema=True,
        json_object_schema=False,
        parallel_tool_calls=True,
    ),
    Provider.AZURE: ProviderProfile(
        named_tool_choice=True,
        required_tool_choice=True,
        json_schema=True,
        json_object_schema=False,
        parallel_tool_calls=True,
    ),
    # vLLM: guided decoding backs named tool_choice and json_schema; "required" since 0.8.
    Provider.VLLM: ProviderProfile(
        named_tool_choice=True,
        required_tool_choice=True,
        json_schema=True,
        json_object_schema=False,
        parallel_tool_calls=True,
    ),
    # Ollama's OpenAI layer ignores tool_choice; a JSON schema in response_format is used.
    Provider.OLLAMA: ProviderProfile(
        named_tool_choice=False,
        required_tool_choice=False,
        json_schema=True,
        json_object_schema=False,
        parallel_tool_calls=False,
    ),
    Provider.LLAMACPP: ProviderProfile(
        named_tool_choice=True,
        required_tool_choice=False,
        json_schema=False,
        json_object_schema=True,
        parallel_tool_calls=False,
    ),
}

# No provider named: the plain protocol (forced tool, no optional parameters).
GENERIC = ProviderProfile(
    named_tool_choice=True,
    required_tool_choice=False,
    json_schema=False,
    json_object_schema=True,
    parallel_tool_calls=False,
)


def profile_for(provider: Provider | None) -> ProviderProfile:
    return GENERIC if provider is None else PROFILES[provider]


class ModelPrice(BaseModel, frozen=True):
    """What a model costs, in US dollars per million tokens."""

    prompt_per_mtok: float = Field(ge=0.0)
    completion_per_mtok: float = Field(ge=0.0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.prompt_per_mtok + completion_tokens * self.completion_per_mtok
        ) / 1_000_000


def estimated_cost(
    prices: dict[str, ModelPrice], model: str | None, prompt_tokens: int, completion_tokens: int
) -> float | None:
    """The cost of these tokens on `model`, or None when its price is not configured."""
    if model is None or model not in prices:
        return None
    return prices[model].cost(prompt_tokens, completion_tokens)
