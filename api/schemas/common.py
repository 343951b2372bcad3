"""Schemas shared by several resources."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


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
