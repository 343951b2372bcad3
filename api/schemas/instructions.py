"""An agent's do/don't instructions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Timestamps
from core.agents.spec import InstructionKind

InstructionText = Field(min_length=1, max_length=1000)


class InstructionBase(BaseModel):
    """Fields of one instruction."""

    model_config = ConfigDict(extra="forbid")

    kind: InstructionKind
    text: str = InstructionText
    priority: int = Field(0, ge=-1000, le=1000)
    active: bool = True
    topic: str | None = Field(None, max_length=200)


class InstructionCreate(InstructionBase):
    """Body of `POST /api/agents/{id}/instructions`."""


class InstructionUpdate(BaseModel):
    """Body of `PUT /api/agents/{id}/instructions/{instruction_id}`: fields given change."""

    model_config = ConfigDict(extra="forbid")

    kind: InstructionKind | None = None
    text: str | None = Field(None, min_length=1, max_length=1000)
    priority: int | None = Field(None, ge=-1000, le=1000)
    active: bool | None = None
    topic: str | None = Field(None, max_length=200)


class InstructionPublic(Timestamps):
    """An instruction as the API shows it."""

    id: int
    agent_id: int
    kind: InstructionKind
    text: str
    priority: int
    active: bool
    topic: str | None
