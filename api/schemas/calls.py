"""Calls and webhook deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import PublicModel
from core.agents.spec import RowId

PHONE_PATTERN = r"^\+[1-9]\d{6,14}$"


class CallCreate(BaseModel):
    """Body of `POST /api/calls`: an outbound call from an agent to a number."""

    model_config = ConfigDict(extra="forbid")

    agent_id: RowId
    to: str = Field(pattern=PHONE_PATTERN, description="E.164, e.g. +14155550123")
    from_number: str | None = Field(
        None, alias="from", pattern=PHONE_PATTERN, description="default: TWILIO_FROM_NUMBER"
    )


class CallEnd(BaseModel):
    """Body of `POST /api/calls/{id}/end`."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field("ended_by_admin", min_length=1, max_length=64)


class CallStarted(BaseModel):
    """Answer of `POST /api/calls`."""

    call_sid: str
    workflow_id: str


class TurnPublic(PublicModel):
    """One turn of a transcript."""

    seq: int
    speaker: str
    text: str
    interrupted: bool
    latency: dict[str, Any]


class CallPublic(PublicModel):
    """A call in a list."""

    id: uuid.UUID
    call_sid: str
    agent_id: int | None
    direction: str
    from_number: str
    to_number: str
    status: str
    outcome: str | None
    end_reason: str | None
    workflow_id: str
    started_at: datetime
    ended_at: datetime | None


class CallDetail(CallPublic):
    """A call with its transcript, analysis and, while it runs, live progress."""

    summary: str | None
    extracted_data: dict[str, Any]
    analysis: dict[str, Any]
    transcript: list[TurnPublic]
    progress: dict[str, Any] | None = None
    temporal_ui_url: str | None = None


class AttemptPublic(PublicModel):
    """One delivery attempt."""

    number: int
    status_code: int | None
    latency_ms: float
    error: str | None
    attempted_at: datetime


class DeliveryPublic(PublicModel):
    """A webhook delivery and its attempts."""

    id: int
    webhook_id: str
    event_type: str
    url: str
    status: str
    payload: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    attempts: list[AttemptPublic]
