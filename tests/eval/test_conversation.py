"""A simulated call against a scripted brain: how it ends, loops, don'ts and what is recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator

from realtime.brains.base import BrainEvent, CallerTurn, Captured, EndCall, Say
from realtime.session import CANNOT_SAY
from tests.eval.fakes import ScriptedBrain, caller, say, table_agent
from workers.eval.conversation import AGENT_ENDED, CALLER_HUNG_UP, MAX_CALLER_TURNS, run_text_call

FACTS = {"date": "2026-12-04", "time": "19:00"}
SAY = {"date": ["this friday"], "time": ["seven pm"]}
AGENT = table_agent()


async def test_a_call_runs_until_the_brain_ends_it_and_keeps_what_it_recorded() -> None:
    brain = ScriptedBrain(
        AGENT,
        [
            [Captured("date", "2026-12-04"), Say("Got it, Friday."), Say("What time?")],
            [Captured("time", "19:00"), Say("7 PM. You're booked, goodbye!"), EndCall()],
        ],
        greeting="Thanks for calling! What day would you like?",
    )
    record = await run_text_call(brain, caller(AGENT, facts=FACTS, say=SAY), AGENT)

    assert brain.turns == ["this friday", "seven pm"]
    assert record.end_reason == AGENT_ENDED and record.failure is None
    assert record.caller_turns == 2
    assert record.captured == {"date": "2026-12-04", "time": "19:00"}
    assert not record.completed  # the agent's other fields were never given
    assert [(line.speaker, line.text) for line in record.transcript] == [
        ("agent", "Thanks for calling! What day would you like?"),
        ("caller", "this friday"),
        ("agent", "Got it, Friday. What time?"),
        ("caller", "seven pm"),
        ("agent", "7 PM. You're booked, goodbye!"),
    ]
    assert "recorded date='2026-12-04'" in record.transcript[2].note
    assert brain.heard_texts[0] == "Got it, Friday. What time?"


async def test_the_same_words_three_times_in_a_row_is_a_loop() -> None:
    brain = ScriptedBrain(AGENT, [say("What day?")], greeting="What day?")
    record = await run_text_call(brain, caller(AGENT, facts=FACTS, say=SAY), AGENT)
    assert record.failure is not None and "same thing 3 times in a row" in record.failure
    assert record.caller_turns == 2  # greeting + two replies are three in a row


async def test_a_call_that_never_ends_stops_after_the_turn_limit() -> None:
    questions = [say("What day?"), say("And the time?")] * MAX_CALLER_TURNS
    brain = ScriptedBrain(AGENT, questions, greeting="Hello!")
    person = caller(AGENT, facts=FACTS, say=SAY, script=[{"on": "start", "say": "Hi."}])
    record = await run_text_call(brain, person, AGENT)
    assert record.caller_turns == MAX_CALLER_TURNS
    assert record.failure is not None and record.failure.startswith("stuck in a loop")


async def test_a_caller_hang_up_ends_the_call_without_an_answer() -> None:
    brain = ScriptedBrain(AGENT, [say("What time?")], greeting="What day?")
    person = caller(
        AGENT, facts=FACTS, say=SAY, script=[{"on": "start", "say": "never mind", "hangup": True}]
    )
    record = await run_text_call(brain, person, AGENT)
    assert brain.turns == []
    assert (record.end_reason, record.failure, record.caller_turns) == (CALLER_HUNG_UP, None, 1)


async def test_a_confused_caller_hangs_up_and_the_call_fails() -> None:
    brain = ScriptedBrain(AGENT, [say("Hmm, okay."), say("Right."), say("I see.")], "Hello.")
    record = await run_text_call(brain, caller(AGENT, facts=FACTS, say=SAY), AGENT)
    assert record.end_reason == CALLER_HUNG_UP
    assert record.failure is not None and "could not tell" in record.failure
    assert record.caller_turns == 3


async def test_a_sentence_that_breaks_a_dont_is_dropped_and_recorded() -> None:
    agent = table_agent(donts=["Don't discuss pricing"])
    brain = ScriptedBrain(
        agent,
        [
            [Say("Dinner for two costs about 80 dollars."), Say("What time would you like?")],
            [Say("It costs 40 dollars a head.")],
            [Say("Bye!"), EndCall()],
        ],
        greeting="What day would you like?",
    )
    record = await run_text_call(brain, caller(agent, facts=FACTS, say=SAY), agent)
    said = [line.text for line in record.transcript if line.speaker == "agent"]
    assert said[1] == "What time would you like?"
    assert said[2] == CANNOT_SAY  # nothing left to say, as in a real call
    assert [b.sentence for b in record.breaches] == [
        "Dinner for two costs about 80 dollars.",
        "It costs 40 dollars a head.",
    ]
    assert {b.instruction for b in record.breaches} == {"Don't discuss pricing"}


class BrokenBrain(ScriptedBrain):
    async def reply(self, turn: CallerTurn) -> AsyncIterator[BrainEvent]:
        raise RuntimeError("model exploded")
        yield Say("unreachable")


async def test_a_brain_that_raises_fails_its_call_only() -> None:
    brain = BrokenBrain(AGENT, [say("x")], greeting="What day?")
    record = await run_text_call(brain, caller(AGENT, facts=FACTS, say=SAY), AGENT)
    assert record.failure is not None and "model exploded" in record.failure
