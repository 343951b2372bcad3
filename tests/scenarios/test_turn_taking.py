"""Turn-taking scenarios by phone audio: barge-in, silence, keypad, hanging up mid-sentence."""

from __future__ import annotations

import datetime as dt

from tests.scenarios.conftest import PlatformFactory, finished_call

NAME = {"say": "Hi, my name is Jane Smith."}
READ_BACK = "Let me read that back:"


async def test_caller_speaking_over_the_agent_stops_its_audio(platform: PlatformFactory) -> None:
    world = await platform()
    report = await world.call(
        [NAME, {"say": "Sorry, one moment please.", "barge_in_after_ms": 700}]
    )
    barge = [t for t in report.turns if t.kind == "barge_in"]
    assert barge and barge[0].agent_talking_at_onset, report.turns
    assert report.clears, "the server never sent clear"
    assert barge[0].clear_ms is not None and barge[0].clear_ms < 300, barge[0]
    assert barge[0].agent_stopped_ms is not None and barge[0].agent_stopped_ms < 300, barge[0]

    call = await finished_call(world, report.call_sid)
    cut = [t for t in call["transcript"] if t["speaker"] == "agent" and t["interrupted"]]
    assert cut, call["transcript"]
    # Only the words played before the caller spoke: less than the full reply.
    assert len(cut[0]["text"].split()) < len(
        "Got it, Jane Smith. What's the best number to reach you on?".split()
    )


async def test_silence_gets_a_reprompt_then_a_polite_goodbye(platform: PlatformFactory) -> None:
    world = await platform(reprompt_after_s=1.5)
    report = await world.call([{"silence": 8}])
    agent = [t.text.lower() for t in report.transcript if t.speaker == "agent"]
    assert any("still there" in line for line in agent), agent
    assert "goodbye" in agent[-1], agent
    assert report.ended_by == "agent" and report.closed_by_server
    call = await finished_call(world, report.call_sid)
    assert call["end_reason"] == "caller_silent", call


async def test_keypad_digits_answer_the_question(platform: PlatformFactory) -> None:
    world = await platform()
    report = await world.call([NAME, {"dtmf": "5551234567#"}])
    agent = " ".join(t.text for t in report.transcript if t.speaker == "agent")
    assert "555" in agent.replace(" ", ""), agent
    call = await finished_call(world, report.call_sid)
    keyed = [t for t in call["transcript"] if t["speaker"] == "caller" and "keypad" in t["text"]]
    assert keyed and "5551234567" in keyed[0]["text"], call["transcript"]


async def test_caller_hanging_up_mid_sentence(platform: PlatformFactory) -> None:
    world = await platform()
    report = await world.call([NAME, {"hangup": True, "after_ms": 600}])
    assert report.ended_by == "caller"
    call = await finished_call(world, report.call_sid)
    assert call["end_reason"] == "caller_hung_up", call
    last = call["transcript"][-1]
    assert last["speaker"] == "agent" and last["interrupted"], call["transcript"]


async def test_a_correction_at_the_read_back_changes_the_booking(
    platform: PlatformFactory,
) -> None:
    world = await platform()
    report = await world.call(
        [
            NAME,
            {"say": "My number is five five five, one two three, four five six seven."},
            {"say": "Next Tuesday, please."},
            {"say": "At three in the afternoon."},
            {"say": "A dental cleaning, please."},  # words Whisper hears (see workers.demo)
            {"say": "No, make it Wednesday."},
            {"say": "Yes, that's right."},
        ]
    )
    assert report.ended_by == "agent", report.transcript
    call = await finished_call(world, report.call_sid)
    agent = [t["text"] for t in call["transcript"] if t["speaker"] == "agent"]
    # The second read-back says Wednesday; the booking keeps it.
    read_backs = [line for line in agent if READ_BACK in line]
    assert len(read_backs) >= 2 and "Tuesday" in read_backs[0], agent
    assert "Wednesday" in read_backs[-1] and "Tuesday" not in read_backs[-1], read_backs
    # The business system receives the corrected date: a Wednesday.
    done = (await world.receiver.wait_for("/call", timeout=60))[-1].json
    booked = dt.date.fromisoformat(done["data"]["extracted_data"]["preferred_date"])
    assert booked.weekday() == 2, booked
