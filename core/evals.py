"""The agent eval contract: names and payloads of `AgentEvalWorkflow` and its one activity.

`POST /api/agents/{id}/eval` runs `callwright eval` scenarios (YAML text) against a stored
agent from the web console. The API may not import the eval code (it lives with the worker), so
it starts a short workflow, `agent-eval-<agent_id>-<uuid>`, whose activity, `run_agent_eval`, runs
every scenario in the worker process and answers an `AgentEvalResult`: the figures, each
scenario's verdict and transcript, or the scenarios that could not be read (`invalid`), in
which case none was run. Payloads pass through the encryption codec like every other.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final, Literal

from core.agents.snapshot import AgentSnapshot

AGENT_EVAL_WORKFLOW: Final = "AgentEvalWorkflow"
RUN_AGENT_EVAL_ACTIVITY: Final = "run_agent_eval"
EVAL_TIMEOUT: Final = timedelta(seconds=120)
"""The most one eval request may take, start to answer."""
MAX_SCENARIOS: Final = 60
MAX_SCENARIO_CHARS: Final = 20_000
SCENARIOS_UNREADABLE: Final = "ScenariosUnreadable"
"""The error type of an activity that cannot read scenarios at all (PyYAML is not installed)."""
EVAL_BUSY: Final = "EvalBusy"
"""The error type of an activity refused because its worker is running another eval."""

EvalSpeaker = Literal["agent", "caller"]


def agent_eval_workflow_id(agent_id: int) -> str:
    """A fresh id for one eval of the agent (evals never share a workflow)."""
    return f"agent-eval-{agent_id}-{uuid.uuid4().hex}"


@dataclass
class AgentEvalRequest:
    """Input of `AgentEvalWorkflow` and its activity: the agent as a call would get it now,
    and the scenarios' YAML text, in the order the results come back."""

    agent: AgentSnapshot
    scenarios: list[str]


@dataclass
class EvalTranscriptLine:
    """One turn of a simulated call, as the other side heard it."""

    speaker: EvalSpeaker
    text: str


@dataclass
class ScenarioOutcome:
    """One scenario's verdict: whether it passed, what went wrong (a wrong field, a broken
    don't, a failure), and the call's transcript."""

    id: str
    description: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    transcript: list[EvalTranscriptLine] = field(default_factory=list)


@dataclass
class InvalidScenario:
    """A scenario that cannot run: its position in the request and what is wrong with it
    (`key`: the scenario's own field at fault, "" for the document as a whole)."""

    index: int
    key: str
    message: str


@dataclass
class AgentEvalResult:
    """What an eval run answers: the figures `callwright eval` reports and every scenario's
    outcome, in the request's order; or, when any scenario cannot run, `invalid` alone."""

    passed: int = 0
    failed: int = 0
    completion: float | None = None
    """Calls that met their goals, of the scenarios that expect them met (None: none does)."""
    field_accuracy: float | None = None
    """Facts the agent recorded correctly, of all facts (None: no scenario has facts)."""
    results: list[ScenarioOutcome] = field(default_factory=list)
    invalid: list[InvalidScenario] = field(default_factory=list)
