"""Schemas of `POST /api/agents/{id}/eval`: eval scenarios in, verdicts and transcripts out."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.evals import MAX_SCENARIO_CHARS, MAX_SCENARIOS

ScenarioText = Annotated[str, Field(min_length=1, max_length=MAX_SCENARIO_CHARS)]


class AgentEvalCreate(BaseModel):
    """Scenarios to run against the agent: each the YAML text of one `callwright eval`
    scenario file (tests/eval/scenarios/README.md)."""

    model_config = ConfigDict(extra="forbid")

    scenarios: Annotated[list[ScenarioText], Field(min_length=1, max_length=MAX_SCENARIOS)]


class EvalTranscriptLinePublic(BaseModel):
    """One turn of a simulated call."""

    speaker: Literal["agent", "caller"]
    text: str


class ScenarioResultPublic(BaseModel):
    """One scenario's verdict and its call."""

    id: str
    description: str
    passed: bool
    problems: list[str]
    """Why it failed, and what went wrong even when it passed (a field recorded wrong, a
    sentence dropped for breaking a don't, a script move never used)."""
    transcript: list[EvalTranscriptLinePublic]


class AgentEvalPublic(BaseModel):
    """The outcome of an eval run: `callwright eval`'s figures and each scenario's result."""

    passed: int
    failed: int
    completion: float | None
    """Calls that met their goals, of the scenarios that expect them met (null: none does)."""
    field_accuracy: float | None
    """Facts the agent recorded correctly, of all the scenarios' facts (null: none has facts)."""
    results: list[ScenarioResultPublic]
