"""Webhook endpoints as the API shows them: secrets masked, except on their own route."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.webhooks.signing import InvalidSecret, check_secret


class EndpointPublic(BaseModel):
    """One endpoint: its URL, its secret masked, and where a rotation stands."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    secret_masked: str = Field(description="`whsec_abcd…`: enough to tell secrets apart")
    previous_secret_expires_at: datetime | None = Field(
        description="While in the future, the previous secret still signs alongside"
    )
    created_at: datetime
    rotated_at: datetime | None


class EndpointSecret(BaseModel):
    """The secret a receiver verifies with; during a rotation, the previous one too."""

    secret: str
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None


class EndpointRotate(BaseModel):
    """Rotate to `secret` (e.g. one a receiver already holds) or, if omitted, a fresh one."""

    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(
        None, description="`whsec_` + base64 of 24 to 64 random bytes; omitted: a fresh one"
    )

    @field_validator("secret")
    @classmethod
    def _strict(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_secret(value)
        except InvalidSecret as exc:
            raise ValueError(str(exc)) from None
