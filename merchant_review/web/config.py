"""Settings of the web app (env MERCHANT_REVIEW_WEB_*), beside the review Settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    """What the analyst web app needs besides the review settings."""

    model_config = SettingsConfigDict(
        env_prefix="MERCHANT_REVIEW_WEB_", env_file=".env", extra="ignore"
    )

    # Where `merchant-review eval ... --out R.json --html R.html` reports are kept.
    reports_dir: Path = Path("reports")
    # Reviews below this confidence need a human, whatever their decision.
    queue_confidence_threshold: float = Field(default=0.7, ge=0.0, le=1.0)
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    # Send cookies over HTTPS only: set true whenever the app is served behind TLS.
    cookie_secure: bool = False
    # Reviews started from the web or the API that run at once (more wait their turn).
    max_concurrent_reviews: int = Field(default=2, ge=1, le=32)
    page_size: int = Field(default=25, ge=1, le=200)
