"""The agent configuration document, as an admin writes it (and as the seed's examples are).

One document describes a whole agent: the template it starts from, goals with their success
criteria and required data, do/don't instructions, a knowledge domain and a voice. The shapes
here are the wire format of `POST /api/agents` and `POST /api/agents/validate`; the database keeps
the same concepts normalised (see `core.db.models`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationInfo, field_validator

from core.fields.declaration import (
    FIELD_NAME_PATTERN,
    DataField,
)
from core.fields.inference import infer_required_data

# Speed is a rate multiplier (1.0 normal); pitch is a shift in semitones (0 unchanged, -12 an
# octave down), as the seed's examples write them (`"speed": 0.95, "pitch": -1`).
SPEED_RANGE = (0.5, 2.0)
PITCH_RANGE = (-12.0, 12.0)
EMOTIONS = ("neutral", "friendly", "warm", "calm", "professional", "enthusiastic", "empathetic")

MAX_CALL_SECONDS_DEFAULT = 1800
INACTIVITY_SECONDS_DEFAULT = 120
ROW_ID_MAX = 2_147_483_647  # PostgreSQL `integer`
# Strict: JSON `true` is not template 1.
RowId = Annotated[int, Field(strict=True, ge=1, le=ROW_ID_MAX)]
# E.164, the form Twilio sends in `To` and `From`.
PhoneNumber = Annotated[str, Field(pattern=r"^\+[1-9]\d{6,14}$")]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=20_000)]


CriterionValue = bool | int | float | str


class GoalSpec(BaseModel):
    """A conversation goal: what success means and which data it needs.

    A goal that lists no `required_data` (as the seed's examples do) gets one field inferred
    per success criterion (`core.fields.inference`); the inferred fields are the goal's from
    then on: stored, shown and asked for like written ones.
    """

    model_config = ConfigDict(extra="forbid")

    name: ShortText
    description: LongText = ""
    success_criteria: dict[Annotated[str, Field(pattern=FIELD_NAME_PATTERN)], CriterionValue] = (
        Field(default_factory=dict, max_length=50)
    )
    # Validated even when left out, so a goal without it gets its data inferred.
    required_data: list[DataField] = Field(
        default_factory=list, max_length=50, validate_default=True
    )
    completion_webhook: HttpUrl | None = None

    @field_validator("required_data")
    @classmethod
    def _unique_or_inferred(cls, fields: list[DataField], info: ValidationInfo) -> list[DataField]:
        # A field validator, not a model one: a model validator would rename the goal's tag in
        # every error location (`function-after[…, GoalSpec]`), which validation reads.
        if not fields:
            return infer_required_data(info.data.get("success_criteria", {}))
        names = [f.name for f in fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"required_data names repeat: {', '.join(duplicates)}")
        return fields


class InstructionKind(StrEnum):
    """A do tells the agent what to do; a don't what never to do."""

    DO = "do"
    DONT = "dont"


class InstructionsSpec(BaseModel):
    """Do/don't lists as the seed writes them; earlier items carry higher priority."""

    model_config = ConfigDict(extra="forbid")

    dos: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=list, max_length=100
    )
    donts: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=list, max_length=100
    )


class VoiceSpec(BaseModel):
    """How the agent sounds: a default emotion, `speed` as a rate multiplier (`SPEED_RANGE`)
    and `pitch` in semitones (`PITCH_RANGE`). Ranges are checked by `validate_agent_config`,
    with their path."""

    model_config = ConfigDict(extra="forbid")

    emotion_default: str = Field("neutral", max_length=40)
    speed: float = 1.0
    pitch: float = 0.0
    voice_profile: str | None = Field(None, max_length=200)


class AgentSpec(BaseModel):
    """A whole agent in one document (`POST /api/agents`).

    Goals are given inline (created, or reused when an identical goal of that name exists) or by
    id; the domain is given by name (created when new) or by id. Top-level keys this platform
    does not know are kept in `custom_settings`, so a richer configuration round-trips intact.
    """

    model_config = ConfigDict(extra="allow")

    name: ShortText
    description: LongText = ""
    template_id: RowId
    base_prompt: LongText | None = None
    greeting: Annotated[str, Field(max_length=1000)] | None = None
    goals: list[GoalSpec | RowId] = Field(default_factory=list, max_length=20)
    instructions: InstructionsSpec = Field(default_factory=InstructionsSpec)
    domain: ShortText | None = None
    domain_ids: list[RowId] = Field(default_factory=list, max_length=20)
    voice: VoiceSpec | None = None
    phone_numbers: list[PhoneNumber] = Field(default_factory=list, max_length=20)
    webhook_urls: list[HttpUrl] = Field(default_factory=list, max_length=10)
    max_call_seconds: int = Field(MAX_CALL_SECONDS_DEFAULT, ge=10, le=4 * 3600)
    inactivity_seconds: int = Field(INACTIVITY_SECONDS_DEFAULT, ge=5, le=3600)
    custom_settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("name must not be blank")
        return stripped

    def all_custom_settings(self) -> dict[str, Any]:
        """`custom_settings` plus any top-level keys the platform does not model."""
        return {**(self.model_extra or {}), **self.custom_settings}


def normalise_instruction(text: str) -> str:
    """An instruction's words, lower-cased, without its do/don't lead-in or punctuation.

    Used to spot a do and a don't that say the same thing ("Confirm the time" / "Don't confirm
    the time").
    """
    lowered = text.lower().replace("’", "'").strip()
    # Lead-ins stack ("Please don't always …"), so strip them until none is left.
    while True:
        stripped = _LEAD_IN.sub("", lowered, count=1)
        if stripped == lowered:
            break
        lowered = stripped
    return " ".join(re.findall(r"[a-z0-9']+", lowered))


_LEAD_IN = re.compile(r"^(do not|don't|dont|never|avoid|always|do|please)\b[\s,]*")
