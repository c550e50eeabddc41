"""Choosing the assessor from settings: offline engine, LLM agent, or the cascade."""

from __future__ import annotations

from agent.assessor import Assessor
from merchant_review.settings import EngineChoice, Settings


class EngineConfigError(Exception):
    """The settings ask for an engine that cannot be built (e.g. no model configured)."""


def offline_assessor(settings: Settings) -> Assessor:
    """The offline engine with the trained artefact (models/snippet-lr.joblib) when present.

    The artefact's content hash becomes part of the engine id ("offline-rules@1+snippet-
    lr@<hash8>"), which the review row and the verdict record. Without the artefact the
    engine runs on the indicators alone, uncalibrated ("offline-rules@1").
    """
    from agent.offline import OfflineAssessor
    from agent.offline.model import DEFAULT_MODEL_PATH, load_model
    from agent.offline.modelscorer import ModelScorer

    if not DEFAULT_MODEL_PATH.is_file():
        return OfflineAssessor(
            reject_min_confidence=settings.reject_min_confidence,
            approve_min_confidence=settings.approve_min_confidence,
        )
    model = load_model(DEFAULT_MODEL_PATH)
    return OfflineAssessor(
        ModelScorer(model),
        reject_min_confidence=settings.reject_min_confidence,
        approve_min_confidence=settings.approve_min_confidence,
        calibration=model.calibration,
    )


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
        PromptSet.load(settings.prompts_dir),
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
