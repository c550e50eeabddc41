"""One typed settings object: environment (MERCHANT_REVIEW_*), .env file, then CLI flags."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from merchant_review.limits import ReviewLimits
from merchant_review.providers import ModelPrice, Provider


class EngineChoice(StrEnum):
    AUTO = "auto"  # the LLM agent when a model is configured, else the offline engine
    OFFLINE = "offline"
    LLM = "llm"
    CASCADE = "cascade"  # offline first; the LLM reviews what offline cannot settle


def default_database_url() -> str:
    data_dir = Path(user_data_dir("merchant-review", appauthor=False))
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        return "sqlite:///merchant-review.db"
    return f"sqlite:///{data_dir / 'merchant-review.db'}"


class CrawlSettings(BaseModel):
    max_pages: int = Field(default=12, ge=1, le=500)
    max_depth: int = Field(default=3, ge=0, le=10)
    max_bytes_per_page: int = Field(default=2_000_000, ge=1_000)
    max_total_bytes: int = Field(default=10_000_000, ge=1_000)
    time_budget_s: float = Field(default=45.0, gt=0)
    request_timeout_s: float = Field(default=10.0, gt=0)
    max_redirects: int = Field(default=5, ge=0, le=20)
    concurrency: int = Field(default=4, ge=1, le=32)
    # Connections the crawler's client keeps open to one site at most (all reviews share it).
    connections_per_host: int = Field(default=6, ge=1, le=64)
    user_agent: str = "merchant-review/0.1 (+supportability review; respects robots.txt)"
    respect_robots: bool = True
    # Hosts or CIDR ranges that may be reached although private/loopback (tests, eval, demo).
    allow_private: list[str] = Field(default_factory=list)
    # host -> "http://127.0.0.1:PORT": send that host's requests to another origin, like
    # curl --resolve. URLs, links and citations keep the logical host.
    origin_overrides: dict[str, str] = Field(default_factory=dict)


class ModelSettings(BaseModel):
    base_url: str | None = None
    name: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=10)
    step_budget: int = Field(default=8, ge=1, le=50)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_page_chars: int = Field(default=6_000, ge=500)
    # How the verdict is obtained; None: the best mode of the provider's profile
    # (merchant_review/providers.py), a forced tool call when no provider is named.
    verdict_via: str | None = Field(default=None, pattern="^(tool|json_schema|json_object)$")
    provider: Provider | None = None  # openai | azure | vllm | ollama | llamacpp
    # "excerpts": retrieved snippets within evidence_chars, the rest through tools;
    # "pages": every fetched page in full (up to max_page_chars each).
    context: str = Field(default="excerpts", pattern="^(excerpts|pages)$")
    evidence_chars: int = Field(default=2_400, ge=200)
    max_tokens: int | None = Field(default=None, ge=16)  # per completion; None: the server's
    # A folder for the response cache: an identical request (model + request hash) is
    # answered from it, so re-running an eval or a replay costs nothing. None: no cache.
    cache_dir: Path | None = Field(default=None, exclude=True)

    @property
    def configured(self) -> bool:
        return bool(self.base_url or self.api_key) and bool(self.name)


class CascadeRoute(StrEnum):
    NON_APPROVE = "non_approve"  # the model reviews every case offline would not approve
    LOW_CONFIDENCE = "low_confidence"  # ... every case offline is unsure of
    EITHER = "either"  # ... both


class CascadeSettings(BaseModel):
    route: CascadeRoute = CascadeRoute.EITHER
    # Offline verdicts below this confidence go to the model (LOW_CONFIDENCE, EITHER).
    confidence_threshold: float = Field(default=0.8, ge=0.0, le=1.0)


class BatchSettings(BaseModel):
    """Batch re-review (merchant_review/batch): local runner and distributed workers."""

    # redis://HOST:PORT/DB: distribute the batch over Celery workers (`merchant-review
    # worker`); None reviews on this machine.
    queue_url: str | None = None
    queue_name: str = Field(default="merchant-review", pattern=r"^[A-Za-z0-9_.:-]+$")
    concurrency: int = Field(default=16, ge=1, le=1000)  # reviews at once, per process
    rate: str | None = None  # model calls per period, e.g. "10/s", "600/min"; None: no limit
    # A claimed item is another worker's to take once its lease runs out (or, on the same
    # machine, once its claimer's process is gone); live claimers renew it.
    lease_s: float = Field(default=300.0, gt=0)
    max_failures: int = Field(default=3, ge=1, le=100)  # attempts that raised, then failed
    task_max_retries: int = Field(default=20, ge=0)
    # Redis redelivers a task a dead worker held after this long (late acknowledgement).
    visibility_timeout_s: int = Field(default=3600, ge=1)
    poll_s: float = Field(default=0.5, gt=0)  # progress refresh / stale-claim sweep
    # Fault injection for tests: the process exits (os._exit) mid-review of its Nth claim.
    fault_exit_after_claims: int | None = Field(default=None, ge=1)


class ExperimentSettings(BaseModel):
    """Shadow mode (merchant_review/experiments): a challenger beside the champion."""

    # The challenger configuration a batch run shadows when `batch --shadow` is not given.
    shadow: str | None = Field(default=None, max_length=100)
    # The share of merchants (by seeded per-merchant hash) the challenger also reviews.
    share: float = Field(default=0.1, gt=0.0, le=1.0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MERCHANT_REVIEW_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    database_url: str = Field(default_factory=default_database_url)
    engine: EngineChoice = EngineChoice.AUTO
    model: ModelSettings = Field(default_factory=ModelSettings)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    cascade: CascadeSettings = Field(default_factory=CascadeSettings)
    limits: ReviewLimits = Field(default_factory=ReviewLimits)  # per review: time, calls, tokens
    # Not part of what shapes a verdict: left out of the stored settings and their hash.
    batch: BatchSettings = Field(default_factory=BatchSettings, exclude=True)
    # US dollars per million tokens, by model name: estimated cost per review.
    prices: dict[str, ModelPrice] = Field(default_factory=dict, exclude=True)
    policy_dir: Path | None = None  # None: the corpus shipped with the project
    # None: the prompts shipped with the project. Left out of the stored settings: the
    # review records the prompt set's version (a hash of its files) instead.
    prompts_dir: Path | None = Field(default=None, exclude=True)
    experiment: ExperimentSettings = Field(default_factory=ExperimentSettings, exclude=True)
    # A prohibited finding needs this confidence to reject; below it the case escalates.
    reject_min_confidence: float = Field(default=0.6, ge=0.0, le=1.0)
    # Below this verdict confidence an approve is escalated instead.
    approve_min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    # Send owner names, emails and phone numbers to a model only when allowed.
    share_personal_data_with_model: bool = False

    def resolved_engine(self) -> EngineChoice:
        if self.engine is EngineChoice.AUTO:
            return EngineChoice.LLM if self.model.configured else EngineChoice.OFFLINE
        return self.engine


class ConfigError(Exception):
    """Settings could not be read; the message says which and why."""


def validation_problems(exc: ValidationError) -> str:
    """A pydantic validation error as one readable line: `field.path: message; ...`."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {validation_problems(exc)}") from exc
