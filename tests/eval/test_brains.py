"""`--brain openai`: the harness drives the LLM brain over the real streamed chat protocol.

The model is the fake OpenAI-compatible server (tests/fake_llm.py) on a real loopback socket,
scripted turn by turn; the caller is the same adaptive caller as for the guided brain.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from core.agents.snapshot import AgentSnapshot
from core.agents.spec import GoalSpec
from core.settings import BrainName, Settings
from tests.eval.fakes import TABLE_FIELDS, case
from tests.fake_llm import FakeLLM, Reply, ToolCall, run_fake_llm
from workers.eval.cases import EvalCase
from workers.eval.suite import run_text_eval

AGENT = AgentSnapshot(
    name="Table Booking",
    template_name="Appointment Scheduler",
    base_prompt="Take table reservations.",
    greeting="Thanks for calling Luigi's!",
    goals=[GoalSpec.model_validate({"name": "reserve", "required_data": TABLE_FIELDS[:3]})],
)
FACTS = {"date": "2026-12-04", "time": "19:00", "party_size": 4}
SAY = {
    "date": ["this friday"],
    "time": ["seven pm", "seven in the evening"],
    "party_size": ["four"],
}


def record(name: str, value: str) -> ToolCall:
    return ToolCall("record_field", json.dumps({"name": name, "value": value}))


def booking(*, time_heard: str) -> list[Reply]:
    """A model that asks one question a turn and records what it heard (`time_heard`: "7 pm",
    or "7 am" to mishear the time, then correct it when the caller says so)."""
    replies = [
        Reply(
            ["Lovely, Friday it is. ", "What time would you like?"],
            [record("date", "2026-12-04")],
        ),
        Reply(["Great. ", "How many people are coming?"], [record("time", time_heard)]),
        Reply(
            ["So that's Friday the 4th at ", f"{time_heard} for four. ", "Is that right?"],
            [record("party_size", "4")],
        ),
    ]
    if time_heard != "7 pm":
        replies.append(
            Reply(
                ["Sorry about that, 7 PM then. ", "Is everything else right?"],
                [record("time", "7 pm")],
            )
        )
    replies.append(
        Reply(["Wonderful, see you Friday!"], [ToolCall("end_call", '{"reason": "completed"}')])
    )
    return replies


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    async with run_fake_llm() as server:
        yield server


def settings(fake: FakeLLM) -> Settings:
    return Settings.model_validate(
        {"LLM_BASE_URL": fake.url, "LLM_MODEL": "fake-model", "LLM_FIRST_TOKEN_TIMEOUT_S": 5}
    )


def cases(*ids: str) -> list[EvalCase]:
    return [case(AGENT, id=i, facts=FACTS, say=SAY) for i in ids]


async def test_the_harness_drives_an_llm_brain_through_a_booking(fake: FakeLLM) -> None:
    fake.script(*booking(time_heard="7 pm"))
    report = await run_text_eval(cases("plain"), BrainName.OPENAI, settings(fake))

    (result,) = report.results
    assert result.passed, report.render(verbose=True)
    assert report.brain == "openai"
    assert (report.completion.value, report.accuracy.value) == (1.0, 1.0)
    # Every caller line went to the model as the user's turn, over the streamed protocol.
    users = [e.body["messages"][-1]["content"] for e in fake.exchanges]
    assert users == ["this friday", "seven pm", "four", "Yes."]
    assert all(e.body["stream"] is True and e.finished for e in fake.exchanges)
    assert result.record.end_reason == "the agent ended the call"


async def test_the_caller_corrects_what_the_model_misheard(fake: FakeLLM) -> None:
    fake.script(*booking(time_heard="7 am"), *booking(time_heard="7 pm"))
    report = await run_text_eval(cases("misheard", "plain"), BrainName.OPENAI, settings(fake))

    misheard = report.results[0]
    assert misheard.passed, report.render(verbose=True)
    lines = [line.text for line in misheard.record.transcript if line.speaker == "caller"]
    assert lines[3] == "No, the time of the reservation is seven in the evening."
    assert misheard.record.captured["time"] == "19:00"
    assert report.accuracy.value == 1.0


async def test_a_failing_model_turn_is_answered_by_the_guided_brain(fake: FakeLLM) -> None:
    replies = booking(time_heard="7 pm")
    fake.script(Reply(status=500), *replies[1:])
    report = await run_text_eval(cases("fallback"), BrainName.OPENAI, settings(fake))

    (result,) = report.results
    # The guided brain took the first turn (and captured the day); the model went on from there.
    assert result.record.captured["date"] == "2026-12-04"
    assert result.record.caller_turns >= 4
    assert report.accuracy.value == 1.0, report.render(verbose=True)
