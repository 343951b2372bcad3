"""A frozen, self-contained picture of an agent: what a prompt is compiled from and what a
call runs with (so a call and its later analysis always use the configuration it ran with)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.agents.spec import GoalSpec, InstructionKind, VoiceSpec


class InstructionSnapshot(BaseModel):
    """One do or don't, as the agent holds it."""

    model_config = ConfigDict(frozen=True)

    kind: InstructionKind
    text: str
    priority: int = 0
    active: bool = True
    topic: str | None = None


class DomainSnapshot(BaseModel):
    """A knowledge domain the agent knows: its name, description and item titles."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    """The domain's id: what a call searches (None in documents built without a database)."""
    name: str
    description: str = ""
    item_titles: list[str] = Field(default_factory=list)
    """The first titles of its items (at most `MAX_ITEM_TITLES` + 1): what the prompt names."""


class AgentSnapshot(BaseModel):
    """Everything needed to compile an agent's prompt, with no database behind it."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    organization_id: int | None = None
    name: str
    description: str = ""
    template_name: str
    base_prompt: str
    greeting: str | None = None
    goals: list[GoalSpec] = Field(default_factory=list)
    instructions: list[InstructionSnapshot] = Field(default_factory=list)
    domains: list[DomainSnapshot] = Field(default_factory=list)
    voice: VoiceSpec = Field(default_factory=VoiceSpec)
