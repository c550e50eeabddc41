"""The LLM agent assessor: OpenAI chat completions with tools, over any compatible server.

The agent reads the merchant record (personal fields only if allowed), the candidate
rules, any offline leads and the crawled pages' visible text (as delimited untrusted
data), investigates with the review toolbox, and submits findings through the
`submit_verdict` tool. It proposes; the review graph verifies citations and decides.

Modules: llm_context (the opening messages), llm_loop (the tool loop and verdict retry),
llm_calls (retries, audit, usage), llm_schema (what submit_verdict accepts).
"""

from __future__ import annotations

import httpx2
import openai

from agent.assessor import AssessmentRequest
from agent.llm_cache import DiskResponseCache, ResponseCache
from agent.llm_calls import ModelCaller, ModelCallError, RetryPolicy
from agent.llm_context import opening_messages
from agent.llm_evidence import Rater, versioned_default_rater
from agent.llm_loop import Conversation
from agent.llm_schema import SubmittedVerdict, VerdictError
from agent.prompts import PromptSet
from merchant_review.settings import ModelSettings
from merchant_review.verdict import Assessment, SiteStatus, Usage
from tools.toolbox import ReviewToolbox

__all__ = ["LLMAssessor", "ModelCallError", "RetryPolicy", "make_openai_client"]

NO_API_KEY = "not-needed"  # local servers (llama.cpp, vLLM, Ollama) accept any key


def make_openai_client(
    settings: ModelSettings, http_client: httpx2.AsyncClient | None = None
) -> openai.AsyncOpenAI:
    """An AsyncOpenAI client for the configured server; retries are left to tenacity."""
    api_key = settings.api_key.get_secret_value() if settings.api_key else NO_API_KEY
    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=settings.base_url,
        timeout=settings.timeout_s,
        max_retries=0,
        http_client=http_client,
    )


class LLMAssessor:
    """The Assessor that asks a model, through tools, for findings with citations."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        settings: ModelSettings,
        prompts: PromptSet,
        *,
        include_personal: bool = False,
        retry: RetryPolicy | None = None,
        cache: ResponseCache | None = None,
        rater: Rater | None = None,
    ) -> None:
        if not settings.name:
            raise ValueError("the LLM assessor needs a model name (ModelSettings.name)")
        self._client = client
        self._settings = settings
        self._model = settings.name
        self._prompts = prompts
        self._include_personal = include_personal
        self._retry = retry or RetryPolicy()
        if cache is None and settings.cache_dir is not None:
            cache = DiskResponseCache(settings.cache_dir)
        self._cache = cache
        # Snippets the offline snippet model rates as evidence join the excerpts, so its
        # artefact's version is part of the prompt version (an injected rater: "custom").
        self._rater, rater_version = rater, "custom"
        if rater is None:
            shipped = versioned_default_rater()
            self._rater, rater_version = shipped if shipped is not None else (None, "none")
        self._prompt_version = prompts.version
        if settings.context == "excerpts":
            self._prompt_version += f"+snippets-{rater_version}"

    @property
    def engine(self) -> str:
        return f"llm:{self._model}"

    @property
    def prompt_version(self) -> str:
        """The prompt files' version, and in excerpts mode the snippet model's."""
        return self._prompt_version

    @property
    def model_name(self) -> str | None:
        return self._model

    async def assess(self, request: AssessmentRequest, toolbox: ReviewToolbox) -> Assessment:
        """Run the agent loop; raises ModelCallError when the model cannot be reached."""
        caller = ModelCaller(
            self._client, self._settings, toolbox.audit, self._retry, cache=self._cache
        )
        excerpts = self._settings.context == "excerpts"
        messages = opening_messages(
            request,
            self._prompts,
            include_personal=self._include_personal,
            max_page_chars=self._settings.max_page_chars,
            evidence_chars=self._settings.evidence_chars if excerpts else None,
            rater=self._rater,
        )
        conversation = Conversation(
            caller=caller,
            toolbox=toolbox,
            prompts=self._prompts,
            settings=self._settings,
            messages=messages,
        )
        outcome = await conversation.run()
        if isinstance(outcome, VerdictError):
            return self._invalid(outcome, caller.usage)
        return self._assessment(outcome, caller.usage)

    def _assessment(self, verdict: SubmittedVerdict, usage: Usage) -> Assessment:
        return Assessment(
            findings=verdict.proposed_findings(),
            site_status=verdict.site_status,
            business_summary=verdict.business_summary,
            confidence=verdict.confidence,
            escalation_reason=verdict.escalation_reason or None,
            engine=self.engine,
            model=self._model,
            prompt_version=self.prompt_version,
            usage=usage,
        )

    def _invalid(self, error: VerdictError, usage: Usage) -> Assessment:
        """No usable verdict after one retry: nothing proposed, a human decides."""
        return Assessment(
            findings=[],
            site_status=SiteStatus.UNCLEAR,
            confidence=0.0,
            escalation_reason=f"model verdict invalid after retry: {error}",
            engine=self.engine,
            model=self._model,
            prompt_version=self.prompt_version,
            usage=usage,
        )
