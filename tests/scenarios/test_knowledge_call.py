"""Callers' questions answered on a phone call, by audio, through the real platform: the plan's
Appointment Scheduler knows the sample dental clinic (imported as `make demo` imports it and
indexed by the worker), answers two questions from it and still books; a price question, which
its "Don't discuss pricing" forbids answering, is declined and the call goes on.

What the agent said is read from the call's stored transcript, not from the caller's own
transcription of the agent's audio, which can mishear."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine

from core import embeddings
from core.context import KnowledgeSearch
from core.db.session import make_sessionmaker
from realtime.runtime import Engines
from tests.conftest import EXAMPLES_DIR
from tests.scenarios.conftest import Platform, PlatformFactory, finished_call
from workers.demo import BOOKING_LINES, load_sample_knowledge

pytestmark = pytest.mark.skipif(
    not embeddings.available(), reason="the bundled MiniLM is not installed"
)

# The demo's booking lines (chosen for the server's Whisper), with a question before the date
# and one before the time. "Do you have parking?" finds the parking fact, where "Where do I
# park?" finds the driving directions (which only name Elm Street on the way) and Whisper
# hears "Is there parking?" as "Is their parking?", which asks nothing.
DATE, TIME, SERVICE, YES = BOOKING_LINES
QUESTIONS_THEN_BOOKING = (
    "Are you open on Saturdays?",
    DATE,
    "Do you have parking?",
    TIME,
    SERVICE,
    YES,
)
PRICE_QUESTION = "How much is a cleaning without insurance?"


@pytest.fixture
def engines(engines: Engines, engine: AsyncEngine) -> Engines:
    """The shared engines, searching this test's database for the agents' knowledge (the
    realtime process searches its DATABASE_URL's)."""
    return dataclasses.replace(engines, knowledge=KnowledgeSearch(make_sessionmaker(engine)))


async def appointment_scheduler(world: Platform) -> Platform:
    """The plan's Appointment Scheduler, created once its domain is indexed, as the platform's
    agent; its goal's webhook and the call's go to the test's receiver."""
    await load_sample_knowledge(world.api, Console(file=io.StringIO()))
    document = json.loads((EXAMPLES_DIR / "appointment_scheduler.json").read_text())
    document["goals"][0]["completion_webhook"] = f"{world.receiver.url}/goal"
    document["webhook_urls"] = [f"{world.receiver.url}/call"]
    created = await world.api.post("/api/agents", json=document)
    assert created.status_code == 201, created.text
    return dataclasses.replace(world, agent=created.json())


def agent_lines(call: dict[str, Any]) -> list[str]:
    """What the agent said, in order, as the platform stored it."""
    return [turn["text"] for turn in call["transcript"] if turn["speaker"] == "agent"]


def conversation(call: dict[str, Any]) -> str:
    """The stored transcript, both sides, for a failure message."""
    return "\n".join(f"{turn['speaker']}: {turn['text']}" for turn in call["transcript"])


async def test_questions_are_answered_from_knowledge_and_prices_are_not(
    platform: PlatformFactory,
) -> None:
    world = await appointment_scheduler(await platform())

    # Both calls at once, as two callers would ring: the test takes as long as the longer one.
    booking, priced = await asyncio.gather(
        world.call([{"say": line} for line in QUESTIONS_THEN_BOOKING], transcribe=False),
        world.call([{"say": PRICE_QUESTION}, {"say": DATE}], transcribe=False),
    )

    # Two questions, each answered and followed by the question the booking is waiting on.
    goal = await world.receiver.wait_for("/goal", timeout=30)
    call = await finished_call(world, booking.call_sid)
    said, heard = agent_lines(call), conversation(call)
    assert len(said) == 1 + len(QUESTIONS_THEN_BOOKING), heard  # the greeting, then one a line
    saturday, parking = said[1], said[3]
    assert "Saturday" in saturday and "9:00 am to 1:00 pm" in saturday, heard
    assert saturday.endswith("What day works best for you?"), heard
    assert "bays" in parking and "Elm Street" in parking, heard
    assert parking.endswith("What time would suit you?"), heard
    assert "$" not in saturday + parking, heard  # the street meters' price is not read out
    assert "goodbye" in said[-1].lower() and call["end_reason"] == "completed", heard
    completed = goal[-1].json
    assert completed["type"] == "goal.completed", completed
    assert completed["data"]["call_sid"] == booking.call_sid, completed
    assert completed["data"]["data"]["time"] == "15:00", completed
    assert completed["data"]["data"]["service"] == "dental cleaning", completed

    # The price is in the knowledge, and the agent's "Don't discuss pricing" keeps it unsaid.
    call = await finished_call(world, priced.call_sid)
    said, heard = agent_lines(call), conversation(call)
    assert len(said) == 3, heard
    declined, after = said[1], said[2]
    assert "can't discuss pricing" in declined and "$" not in declined, heard
    assert "dollar" not in declined.lower(), heard
    assert declined.endswith("What day works best for you?"), heard  # and the call goes on
    assert "Tuesday" in after and after.endswith("What time would suit you?"), heard
