"""The eval activity behind `POST /api/agents/{id}/eval`: scenarios read from text, checked
against the stored agent, and played with the agent's own knowledge from the database."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from core.agents.builder import AgentBuilder
from core.agents.snapshot import AgentSnapshot
from core.db.session import make_sessionmaker
from core.evals import EVAL_BUSY, AgentEvalRequest, AgentEvalResult
from core.goals.manager import GoalManager
from core.organizations import default_organization
from core.settings import Settings
from tests.conftest import EXAMPLES_DIR
from workers.eval import activity as eval_activity
from workers.eval.activity import AgentEvalActivities, read_cases, run_agent_eval
from workers.eval.agents import load_agent
from workers.eval.knowledge import knowledge_path, load_domain_file

SCENARIOS = Path(__file__).resolve().parents[1] / "eval" / "scenarios" / "appointment_scheduler"
SATURDAYS = (SCENARIOS / "appt-q-open-saturdays.yaml").read_text()
THREE_FACTS = (SCENARIOS / "appt-three-facts-at-once.yaml").read_text()


async def stored_scheduler(engine: AsyncEngine, *, domain: str | None) -> AgentSnapshot:
    """The Appointment Scheduler stored, knowing `domain` (else the example's empty one), as a
    call gets it."""
    document: dict[str, Any] = json.loads((EXAMPLES_DIR / "appointment_scheduler.json").read_text())
    if domain is not None:
        document["domain"] = domain
    async with make_sessionmaker(engine)() as session:
        organization = await default_organization(session)
        builder = AgentBuilder(session, organization.id)
        agent = await builder.create_agent(document["template_id"], document)
        return (await builder.compiled(agent.id)).agent


async def test_questions_are_answered_from_the_stored_agent_s_own_domain(
    engine: AsyncEngine, database_url: str, settings: Settings
) -> None:
    loaded = await load_domain_file(make_sessionmaker(engine), knowledge_path("dental_clinic"))
    knowing = await stored_scheduler(engine, domain=loaded.domain.name)

    result = await run_agent_eval(AgentEvalRequest(knowing, [SATURDAYS]), settings, database_url)

    assert result.invalid == []
    outcome = result.results[0]
    assert outcome.passed, outcome.problems
    answer = outcome.transcript[2]  # greeting, the caller's question, this
    assert answer.speaker == "agent"
    assert "9" in answer.text or "nine" in answer.text.lower()


async def test_the_scenario_s_knowledge_file_is_not_what_the_agent_knows(
    engine: AsyncEngine, database_url: str, settings: Settings
) -> None:
    # The example's own domain is empty: the scenario names dental_clinic, but a call with this
    # agent could not answer, and neither does the eval.
    empty = await stored_scheduler(engine, domain=None)

    result = await run_agent_eval(AgentEvalRequest(empty, [SATURDAYS]), settings, database_url)

    outcome = result.results[0]
    assert not outcome.passed
    assert any("has none of" in problem for problem in outcome.problems)
    assert result.failed == 1


def test_every_scenario_that_cannot_run_is_named_with_its_key() -> None:
    agent = load_agent(EXAMPLES_DIR / "appointment_scheduler.json")
    fields = GoalManager(agent.goals).fields
    texts = [
        THREE_FACTS,
        "- a list, not a mapping",
        THREE_FACTS,  # the same id again
        THREE_FACTS.replace('date: "2026-12-04"', 'date: "next week sometime"').replace(
            "appt-three-facts-at-once", "bad-date"
        ),
        "id: asks\nagent: x\nscript:\n  - {'on': 'ask:budget', say: fifty}\n",
        "id: extra\nagent: x\nmood: cheerful\n",
    ]

    cases, invalid = read_cases(texts, agent, fields)

    assert [case.scenario.id for case in cases] == ["appt-three-facts-at-once"]
    assert [(problem.index, problem.key) for problem in invalid] == [
        (1, ""),
        (2, "id"),
        (3, "facts.date"),
        (4, "script[0].on"),
        (5, "mood"),
    ]
    assert invalid[0].message == "a scenario is a YAML mapping"
    assert "is also the id of scenario 0" in invalid[1].message
    assert "no such field 'budget'" in invalid[3].message
    assert all(not problem.message.startswith(".") for problem in invalid)


async def test_a_worker_runs_one_eval_at_a_time_until_its_thread_has_finished(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    started = threading.Event()

    async def held(request: AgentEvalRequest, *args: Any, **kwargs: Any) -> AgentEvalResult:
        started.set()
        release.wait(30)  # its own thread and loop: blocking is what a long eval does
        return AgentEvalResult(passed=len(request.scenarios))

    monkeypatch.setattr(eval_activity, "run_agent_eval", held)
    activities = AgentEvalActivities(settings, async_sessionmaker())
    request = AgentEvalRequest(load_agent(EXAMPLES_DIR / "appointment_scheduler.json"), ["x"])
    first_env = ActivityEnvironment()
    first = asyncio.create_task(first_env.run(activities.run_agent_eval, request))
    assert await asyncio.to_thread(started.wait, 10)

    with pytest.raises(ApplicationError) as busy:
        await ActivityEnvironment().run(activities.run_agent_eval, request)
    assert busy.value.type == EVAL_BUSY and busy.value.non_retryable
    assert "another scenario run is in progress" in busy.value.message

    # Cancelled, the activity ends, but its thread runs on: the worker is still busy.
    first_env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    with pytest.raises(ApplicationError, match="in progress"):
        await ActivityEnvironment().run(activities.run_agent_eval, request)

    release.set()
    async with asyncio.timeout(10):
        while True:
            try:
                result = await ActivityEnvironment().run(activities.run_agent_eval, request)
                break
            except ApplicationError:
                await asyncio.sleep(0.05)  # the thread is finishing
    assert result.passed == 1
