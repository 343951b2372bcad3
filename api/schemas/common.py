"""Schemas shared by several resources."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core.agents.spec import InstructionsSpec


class PublicModel(BaseModel):
    """A response model read from ORM rows."""

    model_config = ConfigDict(from_attributes=True)


class Timestamps(PublicModel):
    """When a row was created and last changed."""

    created_at: datetime
    updated_at: datetime


class ProblemPublic(BaseModel):
    """One problem in an agent configuration, with the path of the field at fault."""

    path: str
    message: str


class ValidationResult(BaseModel):
    """The outcome of `POST /api/agents/validate`."""

    valid: bool
    problems: list[ProblemPublic]
    compiled_prompt: str | None = None
    """The system prompt a call would start with, when the document is valid (the console shows
    it beside the form as the admin types)."""


class ReplyCheck(BaseModel):
    """Body of `POST /api/agents/check-reply`: a sentence an agent might say, and the
    instructions to hold it against."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)
    instructions: InstructionsSpec


class BreachPublic(BaseModel):
    """A don't the sentence breaks, why, and the words that did."""

    instruction: str
    reason: str
    evidence: str


class ReplyVerdict(BaseModel):
    """Whether the agent may say the sentence, and every don't it breaks."""

    allowed: bool
    breaches: list[BreachPublic]
