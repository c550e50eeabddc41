"""Choosing the assessor from settings: offline engine, LLM agent, or the cascade."""

from __future__ import annotations

from agent.assessor import Assessor
from merchant_review.settings import EngineChoice, Settings


class EngineConfigError(Exception):
    """The settings ask for an engine that cannot be built (e.g. no model configured)."""


def offline_assessor(settings: Settings) -> Assessor:
    from agent.offline import OfflineAssessor

    return OfflineAssessor(reject_min_confidence=settings.reject_min_confidence)


def llm_assessor(settings: Settings) -> Assessor:
    from agent.llm import LLMAssessor, make_openai_client
    from agent.prompts import PromptSet

    if not settings.model.configured:
        raise EngineConfigError(
            "the LLM engine needs a model: set MERCHANT_REVIEW_MODEL__NAME and "
            "MERCHANT_REVIEW_MODEL__BASE_URL (or MERCHANT_REVIEW_MODEL__API_KEY for OpenAI)"
        )
    return LLMAssessor(
        make_openai_client(settings.model),
        settings.model,
        PromptSet.load(),
        include_personal=settings.share_personal_data_with_model,
    )


def assessor_for(settings: Settings) -> Assessor:
    engine = settings.resolved_engine()
    if engine is EngineChoice.OFFLINE:
        return offline_assessor(settings)
    if engine is EngineChoice.LLM:
        return llm_assessor(settings)
    from agent.cascade import CascadeAssessor

    return CascadeAssessor(offline_assessor(settings), llm_assessor(settings), settings)
