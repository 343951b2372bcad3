"""Small inline agents, scenarios and a scripted brain for the eval harness's tests."""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

from core.agents.snapshot import AgentSnapshot, InstructionSnapshot
from core.agents.spec import GoalSpec, InstructionKind
from core.fields import DataField
from core.goals.manager import GoalManager
from realtime.brains.base import Brain, BrainEvent, CallerTurn, Captured, Say
from workers.eval.caller import AdaptiveCaller
from workers.eval.cases import EvalCase
from workers.eval.scenario import Scenario

TODAY = dt.date(2026, 12, 1)  # a Tuesday

TABLE_FIELDS: list[dict[str, Any]] = [
    {"name": "date", "type": "date", "description": "the day of the reservation"},
    {"name": "time", "type": "time", "description": "the time of the reservation"},
    {"name": "party_size", "type": "number", "description": "how many people are coming"},
    {
        "name": "seating",
        "type": "enum",
        "description": "where they would like to sit",
        "options": ["indoors", "patio", "bar"],
    },
    {"name": "name", "type": "text", "description": "the name for the reservation"},
    {"name": "phone", "type": "phone", "description": "a number to reach them"},
]


def table_agent(*, donts: Iterable[str] = ()) -> AgentSnapshot:
    """A table-booking agent with one field of most types."""
    return AgentSnapshot(
        name="Table Booking",
        template_name="Appointment Scheduler",
        base_prompt="Take table reservations.",
        greeting="Thanks for calling Luigi's!",
        goals=[GoalSpec.model_validate({"name": "reserve", "required_data": TABLE_FIELDS})],
        instructions=[InstructionSnapshot(kind=InstructionKind.DONT, text=text) for text in donts],
    )


def fields_of(agent: AgentSnapshot) -> Mapping[str, DataField]:
    return GoalManager(agent.goals).fields


def scenario(**document: Any) -> Scenario:
    """A scenario for the table agent; `facts`, `say`, `script`… as keyword arguments."""
    return Scenario.model_validate({"id": "inline", "agent": "table", **document})


def case(agent: AgentSnapshot | None = None, **document: Any) -> EvalCase:
    agent = agent or table_agent()
    made = scenario(**document)
    fields = fields_of(agent)
    return EvalCase(made, agent, Path("inline.json"), fields, made.truths(fields))


def caller(agent: AgentSnapshot | None = None, **document: Any) -> AdaptiveCaller:
    made = case(agent, **document)
    return AdaptiveCaller(made.scenario, made.fields, made.truths)


class ScriptedBrain(Brain):
    """Answers each caller turn with the next scripted list of events (the last one forever).

    `Captured` events are also tracked into its GoalManager, as a real brain's are."""

    def __init__(
        self, agent: AgentSnapshot, replies: Iterable[list[BrainEvent]], greeting: str = "Hi."
    ) -> None:
        self.manager = GoalManager(agent.goals)
        self._replies = deque(replies)
        self._greeting = greeting
        self.turns: list[str] = []
        self.heard_texts: list[str] = []

    def greeting(self) -> str:
        return self._greeting

    async def reply(self, turn: CallerTurn) -> AsyncIterator[BrainEvent]:
        self.turns.append(turn.text)
        events = self._replies.popleft() if len(self._replies) > 1 else self._replies[0]
        for event in events:
            if isinstance(event, Captured):
                self.manager.track_progress(event.name, event.value)
            yield event

    def heard(self, text: str, *, interrupted: bool) -> None:
        self.heard_texts.append(text)


def say(text: str) -> list[BrainEvent]:
    return [Say(text)]
