"""Agents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from api.schemas.common import Timestamps
from api.schemas.domains import DomainPublic
from api.schemas.goals import GoalPublic
from api.schemas.instructions import InstructionPublic
from core.agents.spec import AgentSpec, LongText, PhoneNumber, RowId, ShortText, VoiceSpec


class AgentCreate(AgentSpec):
    """Body of `POST /api/agents`: a whole agent in one document (see `AgentSpec`)."""


class AgentUpdate(BaseModel):
    """Body of `PATCH /api/agents/{id}`: only the fields given change. Goals, instructions and
    domains have their own routes."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    description: LongText | None = None
    template_id: RowId | None = None
    base_prompt: LongText | None = None
    greeting: str | None = Field(None, max_length=1000)
    voice: VoiceSpec | None = None
    phone_numbers: list[PhoneNumber] | None = Field(None, max_length=20)
    webhook_urls: list[HttpUrl] | None = Field(None, max_length=10)
    max_call_seconds: int | None = Field(None, ge=10, le=4 * 3600)
    inactivity_seconds: int | None = Field(None, ge=5, le=3600)
    custom_settings: dict[str, Any] | None = None


class AgentSummary(Timestamps):
    """An agent in a list."""

    id: int
    name: str
    description: str
    template_id: int


class AgentPublic(AgentSummary):
    """An agent with everything it is made of."""

    base_prompt: str | None
    greeting: str | None
    voice: dict[str, Any]
    phone_numbers: list[str]
    webhook_urls: list[str]
    max_call_seconds: int
    inactivity_seconds: int
    custom_settings: dict[str, Any]
    goals: list[GoalPublic]
    instructions: list[InstructionPublic]
    domains: list[DomainPublic]


class CompiledPrompt(BaseModel):
    """Body of `GET /api/agents/{id}/prompt`."""

    agent_id: int
    prompt: str
