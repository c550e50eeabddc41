"""The processor's merchant record, as held in the records database and in eval datasets."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Personal data: never sent to a model unless settings allow, redacted in logs.
PERSONAL_FIELDS = frozenset(
    {"owner_name", "owner", "email", "owner_email", "phone", "owner_phone", "contact_name"}
)


class MerchantRecord(BaseModel):
    """A merchant account. Unknown extra fields are kept as part of the record."""

    model_config = ConfigDict(extra="allow")

    merchant_id: str = Field(min_length=1, max_length=200)
    website: str = Field(min_length=1)
    legal_name: str | None = None
    dba: str | None = None
    country: str | None = None
    mcc: str | None = None
    business_description: str | None = None
    created_at: str | None = None
    monthly_volume_usd: float | None = None
    dispute_rate: float | None = None
    refund_rate: float | None = None

    @field_validator("mcc", mode="before")
    @classmethod
    def _mcc_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    def fields(self, *, include_personal: bool = False) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_none=True)
        if not include_personal:
            data = {k: v for k, v in data.items() if k not in PERSONAL_FIELDS}
        return data
