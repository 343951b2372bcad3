"""Scenario files made ready to run: each with its agent, the agent's fields and the truth."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.agents.snapshot import AgentSnapshot
from core.fields import DataField
from core.goals.manager import GoalManager
from workers.eval.agents import AgentDocumentError, agent_path, load_agent
from workers.eval.scenario import Scenario, ScenarioError, find_scenarios, load_scenario
from workers.eval.truth import Truth


@dataclass(frozen=True)
class EvalCase:
    """One scenario ready to run."""

    scenario: Scenario
    agent: AgentSnapshot
    agent_file: Path
    """The agent document the snapshot was read from (audio runs create the agent from it)."""
    fields: Mapping[str, DataField]
    """The agent's fields by name, as its GoalManager declares them."""
    truths: Mapping[str, Truth]
    """The scenario's facts, parsed for their fields' types."""


def load_cases(paths: Sequence[Path], *, agent_file: Path | None = None) -> list[EvalCase]:
    """Every scenario under `paths`, each against its own agent or `agent_file`.

    Raises ScenarioError for the first scenario that cannot run (its file and key named)."""
    agents: dict[Path, AgentSnapshot] = {}
    cases: list[EvalCase] = []
    seen: dict[str, Path] = {}
    for path in find_scenarios(paths):
        scenario = load_scenario(path)
        if scenario.id in seen:
            raise ScenarioError(
                path, "id", f"{scenario.id!r} is also the id of {seen[scenario.id]}"
            )
        seen[scenario.id] = path
        document = agent_file or agent_path(scenario.agent)
        if document not in agents:
            try:
                agents[document] = load_agent(document)
            except AgentDocumentError as exc:
                raise ScenarioError(path, "agent", str(exc)) from None
        agent = agents[document]
        fields = GoalManager(agent.goals).fields
        cases.append(EvalCase(scenario, agent, document, fields, scenario.truths(fields)))
    return cases
