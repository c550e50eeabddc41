"""What a named review configuration fixes, and how it is applied to the Settings.

A configuration is a small set of overrides over the settings a process runs with:
engine, model (name, server, temperature), prompt set (a folder of prompt files), policy
corpus (a folder of rules), and the decision thresholds. What it does not fix (crawl
limits, database, API keys) comes from the environment, so a configuration stored in the
database never holds a secret. Prices per million tokens are not settings: they turn the
token counts the audit log records into a cost in the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from merchant_review.settings import CascadeRoute, EngineChoice, Settings, validation_problems


class SpecError(ValueError):
    """A configuration that cannot be stored or applied (the message says why)."""


class ConfigSpec(BaseModel):
    """The overrides of one configuration; None leaves the running settings' value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: EngineChoice | None = None
    model_name: str | None = None
    model_base_url: str | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    prompts_dir: Path | None = None
    policy_dir: Path | None = None
    reject_min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    approve_min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    cascade_route: CascadeRoute | None = None
    cascade_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    # Report-only: US dollars per million prompt / completion tokens.
    price_in_per_mtok: float = Field(default=0.0, ge=0.0)
    price_out_per_mtok: float = Field(default=0.0, ge=0.0)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> ConfigSpec:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SpecError(f"invalid configuration: {validation_problems(exc)}") from exc

    def record(self) -> dict[str, Any]:
        """As stored (JSON, unset fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)

    def apply(self, settings: Settings) -> Settings:
        """The settings with this configuration's overrides (validated like any settings)."""
        top = {
            "engine": self.engine,
            "prompts_dir": self.prompts_dir,
            "policy_dir": self.policy_dir,
            "reject_min_confidence": self.reject_min_confidence,
            "approve_min_confidence": self.approve_min_confidence,
        }
        model: dict[str, Any] = {"name": self.model_name, "base_url": self.model_base_url}
        model["temperature"] = self.temperature
        cascade = {"route": self.cascade_route, "confidence_threshold": self.cascade_threshold}
        try:
            update: dict[str, Any] = {k: v for k, v in top.items() if v is not None}
            update["model"] = settings.model.model_validate(
                {**settings.model.model_dump(), **_set(model)}
            )
            update["cascade"] = settings.cascade.model_validate(
                {**settings.cascade.model_dump(), **_set(cascade)}
            )
        except ValidationError as exc:
            raise SpecError(f"invalid configuration: {validation_problems(exc)}") from exc
        return settings.model_copy(update=update)

    def describe(self) -> str:
        """One line: the overrides, e.g. `engine=llm model_name=gpt-4.1-mini`."""
        shown = {k: v for k, v in self.record().items() if not k.startswith("price") or v}
        return " ".join(f"{k}={v}" for k, v in shown.items()) or "(the running settings)"

    @property
    def priced(self) -> bool:
        """Whether this configuration names its own prices."""
        return bool(self.price_in_per_mtok or self.price_out_per_mtok)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.price_in_per_mtok + completion_tokens * self.price_out_per_mtok
        ) / 1_000_000


def _set(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
