"""Agent templates."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Timestamps
from core.agents.spec import LongText, ShortText, VoiceSpec


class TemplateBase(BaseModel):
    """Fields an admin sets on a template."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText
    description: LongText = ""
    base_prompt: LongText = Field(min_length=1)
    default_voice: VoiceSpec = Field(default_factory=VoiceSpec)
    default_settings: dict[str, Any] = Field(default_factory=dict)


class TemplateCreate(TemplateBase):
    """Body of `POST /api/agents/templates`."""


class TemplateUpdate(BaseModel):
    """Body of `PATCH /api/agents/templates/{id}`: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    description: LongText | None = None
    base_prompt: LongText | None = Field(None, min_length=1)
    default_voice: VoiceSpec | None = None
    default_settings: dict[str, Any] | None = None


class TemplatePublic(Timestamps):
    """A template as the API shows it."""

    id: int
    name: str
    description: str
    base_prompt: str
    default_voice: dict[str, Any]
    default_settings: dict[str, Any]
