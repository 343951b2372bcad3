"""Schemas of `/api/organization`, `/api/keys` and `/api/audit`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import PublicModel
from core.auth import Scope

CallPrefix = Annotated[str, StringConstraints(pattern=r"^\+[0-9]{0,14}$")]


class OrganizationPublic(PublicModel):
    """An organization and the limits it sets."""

    id: int
    name: str
    retention_days: int | None
    allowed_call_prefixes: list[str]
    calls_per_hour: int
    allow_private_webhooks: bool
    rate_limit_per_minute: int
    created_at: datetime


class OrganizationUpdate(BaseModel):
    """The limits to change; `retention_days: null` keeps call history forever."""

    model_config = ConfigDict(extra="forbid")

    retention_days: int | None = Field(None, ge=1, le=36_500)
    allowed_call_prefixes: list[CallPrefix] | None = Field(
        None,
        max_length=100,
        description="E.164 prefixes outbound calls may dial, e.g. `+1`, `+4420`; `+` allows all",
        examples=[["+1", "+44"]],
    )
    calls_per_hour: int | None = Field(None, ge=0, le=100_000)
    allow_private_webhooks: bool | None = None
    rate_limit_per_minute: int | None = Field(None, ge=1, le=1_000_000)


class KeyPublic(PublicModel):
    """An API key as listed: never the key itself."""

    id: int
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyCreate(BaseModel):
    """A new key for the organization: a name, its scopes, optionally when it expires."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope), examples=[["read"]])
    expires_at: datetime | None = Field(None, description="ISO 8601 with a timezone")


class KeyCreated(KeyPublic):
    """The new key; `key` is shown this once and never again."""

    key: str


class AuditEventPublic(PublicModel):
    """One change made through the API."""

    id: int
    at: datetime
    key_name: str
    api_key_id: int | None
    method: str
    path: str
    status_code: int
    client: str
