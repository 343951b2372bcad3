"""GuidedBrain: a booking call driven turn by turn, with no LLM and a fixed "today"."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from core.agents.snapshot import AgentSnapshot
from core.agents.spec import AgentSpec, GoalSpec
from core.fields import DataField, FieldType
from realtime.brains import GuidedBrain
from realtime.brains.extraction import (
    extract_date,
    extract_email,
    extract_name,
    extract_number,
    extract_phone,
    extract_time,
    extract_yes_no,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TODAY = dt.date(2026, 11, 25)  # a Wednesday


def scheduler() -> AgentSnapshot:
    spec = AgentSpec.model_validate(
        json.loads((EXAMPLES / "appointment_scheduler.json").read_text())
    )
    return AgentSnapshot(
        name=spec.name,
        template_name="Scheduler",
        base_prompt="Book appointments.",
        greeting="Thanks for calling Bright Smile Dental.",
        goals=[goal for goal in spec.goals if isinstance(goal, GoalSpec)],
    )


def brain_at_confirmation() -> GuidedBrain:
    brain = GuidedBrain(scheduler(), today=TODAY)
    for line in ("Ana Diaz", "415 555 1234", "next Tuesday at 3:30 pm", "a cleaning"):
        brain.respond(line)
    return brain


def test_booking_call_completes_turn_by_turn() -> None:
    brain = GuidedBrain(scheduler(), today=TODAY)
    assert brain.greeting() == "Thanks for calling Bright Smile Dental. What is your name?"

    reply = brain.respond("Um, my name is Ana Diaz.")
    assert reply.captured == {"customer_name": "Ana Diaz"}
    assert "phone number" in reply.text

    reply = brain.respond("four one five, five five five, one two three four")
    assert reply.captured == {"phone_number": "4155551234"}
    assert reply.text.endswith("What is your preferred date?")

    reply = brain.respond("next Tuesday at 3:30 pm")
    assert reply.captured == {"preferred_date": "2026-12-01", "preferred_time": "15:30"}
    assert reply.text.startswith("Got it, Tuesday, December 1st at 3:30 PM.")
    assert "service type" in reply.text

    reply = brain.respond("I'd like a cleaning, please")
    assert reply.captured == {"service_type": "cleaning"}
    assert "Let me confirm:" in reply.text and reply.text.endswith("Is that right?")
    assert not reply.end_call

    reply = brain.respond("Yes, that's right.")
    assert reply.end_call
    assert reply.text == "Thanks, you're all set. Goodbye!"
    assert brain.manager.check_completion()
    assert brain.manager.confirmed == frozenset(brain.manager.captured)


def test_correction_changes_the_date_and_reconfirms() -> None:
    brain = brain_at_confirmation()
    reply = brain.respond("No, Wednesday")
    assert reply.captured == {"preferred_date": "2026-12-02"}
    assert "Wednesday, December 2nd" in reply.text and reply.text.endswith("Is that right?")
    assert not reply.end_call

    reply = brain.respond("actually 4pm")
    assert reply.captured == {"preferred_time": "16:00"}
    assert "4 PM" in reply.text

    assert brain.respond("yes").end_call
    assert brain.manager.captured["preferred_date"] == "2026-12-02"


def test_plain_no_asks_which_detail_then_takes_it() -> None:
    brain = brain_at_confirmation()
    reply = brain.respond("no")
    assert reply.text == "No problem. Which detail should I change?"
    reply = brain.respond("the preferred time")
    assert "preferred time" in reply.text
    reply = brain.respond("half past four")
    assert reply.captured == {"preferred_time": "16:30"}


def test_garbage_answer_is_reasked_with_a_hint() -> None:
    brain = GuidedBrain(scheduler(), today=TODAY)
    brain.respond("Ana Diaz")
    reply = brain.respond("banana")
    assert reply.captured == {}
    assert "phone_number" in reply.rejected
    assert "digits" in reply.text and reply.text.endswith("What is your phone number?")
    again = brain.respond("banana")
    assert again.text.startswith("Sorry, I still didn't get that.")
    assert brain.respond("").text  # never silence


def test_dtmf_phone_and_confirmation() -> None:
    brain = GuidedBrain(scheduler(), today=TODAY)
    brain.respond("it's Ana")
    reply = brain.respond_dtmf("4155551234#")
    assert reply.captured == {"phone_number": "4155551234"}
    brain.respond("December 2nd at 10am")
    brain.respond("checkup")
    assert brain.respond_dtmf("1").end_call


def test_enum_and_number_fields() -> None:
    goal = GoalSpec(
        name="Quote",
        required_data=[
            DataField(name="plan", type=FieldType.ENUM, options=["Basic", "Premium Plus"]),
            DataField(name="budget", type=FieldType.NUMBER, description="budget"),
        ],
    )
    agent = AgentSnapshot(name="Quotes", template_name="T", base_prompt="x", goals=[goal])
    brain = GuidedBrain(agent, today=TODAY)
    assert "Basic or Premium Plus" in brain.greeting()
    reply = brain.respond("the premium one")
    assert reply.captured == {"plan": "Premium Plus"}
    assert reply.text.endswith("What is your budget?")
    assert brain.respond("about five thousand").captured == {"budget": 5000.0}


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("ana at example dot com", "ana@example.com"),
        ("it's ana dot diaz at Example dot com", "ana.diaz@example.com"),
        ("ana_d@mail.example.org", "ana_d@mail.example.org"),
        ("I don't have one", None),
    ],
)
def test_email_extraction(said: str, expected: str | None) -> None:
    assert extract_email(said) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("$5,000", 5000.0),
        ("12k", 12000.0),
        ("about five thousand dollars", 5000.0),
        ("two hundred and fifty", 250.0),
        ("twenty-five", 25.0),
        ("1.5 million", 1_500_000.0),
        ("no idea", None),
    ],
)
def test_number_extraction(said: str, expected: float | None) -> None:
    assert extract_number(said) == expected


def test_phone_time_date_name_yes_no_units() -> None:
    assert (
        extract_phone("plus one four one five double five five one two three four")
        == "+14155551234"
    )
    assert extract_phone("(415) 555-1234") == "4155551234"
    assert extract_phone("five five five") is None
    assert extract_time("half past three") is not None
    assert [extract_time(t)[0] for t in ("3:30 pm", "10 am", "noon", "quarter to four")] == [  # type: ignore[index]
        "15:30",
        "10:00",
        "12:00",
        "15:45",
    ]
    assert extract_date("December 2nd", TODAY) == "2026-12-02"
    assert extract_date("Wednesday", TODAY) == "2026-12-02"
    assert extract_date("tomorrow", TODAY) == "2026-11-26"
    assert extract_date("the 3rd", TODAY) == "2026-12-03"
    assert extract_date("no idea", TODAY) is None
    assert extract_name("this is Ana Diaz calling", asked=True) == "Ana Diaz"
    assert extract_name("ana", asked=True) == "Ana"
    assert extract_name("I don't know", asked=True) is None
    assert extract_yes_no("yep") is True
    assert extract_yes_no("that's not right") is False
    assert extract_yes_no("banana") is None


def test_a_fork_answers_without_touching_the_original() -> None:
    brain = GuidedBrain(scheduler(), today=TODAY)
    fork = brain.fork()
    fork.respond("My name is Jane Smith.")
    assert "customer_name" in fork.manager.captured
    assert brain.manager.captured == {}
    assert brain.respond("My name is Ann Lee.").captured == {"customer_name": "Ann Lee"}
