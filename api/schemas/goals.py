"""Conversation goals."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from api.schemas.common import Timestamps
from core.agents.spec import CriterionValue, GoalSpec, LongText, RowId, ShortText
from core.fields import DataField


class GoalCreate(GoalSpec):
    """Body of `POST /api/goals` (and an inline goal in `POST /api/agents/{id}/goals`)."""


class GoalRef(BaseModel):
    """An existing goal, by id."""

    model_config = ConfigDict(extra="forbid")

    goal_id: RowId


class GoalUpdate(BaseModel):
    """Body of `PATCH /api/goals/{id}`: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    description: LongText | None = None
    success_criteria: dict[str, CriterionValue] | None = None
    required_data: list[DataField] | None = Field(None, max_length=50)
    completion_webhook: HttpUrl | None = None


class GoalPublic(Timestamps):
    """A goal as the API shows it; `required_data` always in its typed form."""

    id: int
    name: str
    description: str
    success_criteria: dict[str, Any]
    required_data: list[dict[str, Any]]
    completion_webhook: str | None
