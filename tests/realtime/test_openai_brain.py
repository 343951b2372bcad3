"""OpenAIChatBrain against a fake LLM server speaking the real chat-completions stream protocol.

Every test runs the real `openai` client over a real loopback socket; the fake records what the
brain asked and scripts what the "model" answers (text, tool calls, delays, errors).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai import AsyncOpenAI

from core.agents.prompt import compile_system_prompt
from core.calls.types import CallInput, Speaker, TurnEvent
from core.settings import Settings
from realtime.brains.base import (
    BrainEvent,
    CallerTurn,
    Captured,
    EndCall,
    FirstToken,
    Rejected,
    Say,
)
from realtime.brains.guided import GuidedBrain
from realtime.brains.openai_chat import CUT_OFF_MARK, OpenAIChatBrain
from tests.fake_llm import FakeLLM, Reply, ToolCall, run_fake_llm
from tests.realtime.test_guided_brain import TODAY, scheduler
from workers.services import find_free_port

DEADLINE_S = 0.5


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    async with run_fake_llm() as server:
        yield server


def make_brain(base_url: str, *, deadline: float = DEADLINE_S) -> OpenAIChatBrain:
    agent = scheduler()
    client = AsyncOpenAI(base_url=base_url, api_key="test-key", max_retries=0, timeout=5.0)
    return OpenAIChatBrain(
        compile_system_prompt(agent),
        client=client,
        model="fake-model",
        fallback=GuidedBrain(agent, today=TODAY),
        first_token_timeout_s=deadline,
    )


@pytest.fixture
async def brain(fake: FakeLLM) -> AsyncIterator[OpenAIChatBrain]:
    made = make_brain(fake.url)
    yield made
    await made.client.close()


async def run_turn(brain: OpenAIChatBrain, text: str = "", digits: str = "") -> list[BrainEvent]:
    return [event async for event in brain.reply(CallerTurn(text=text, digits=digits))]


def says(events: list[BrainEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, Say)]


def record(name: str, value: str) -> ToolCall:
    return ToolCall("record_field", json.dumps({"name": name, "value": value}))


def guided_answer(*lines: str) -> str:
    """What a fresh guided brain says to the last of `lines`."""
    guided = GuidedBrain(scheduler(), today=TODAY)
    return [guided.respond(line) for line in lines][-1].text


# -- what the model is told -----------------------------------------------------------------------


async def test_system_message_is_the_compiled_prompt_and_the_next_step(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(Reply(text=["Thanks! ", "And your phone number?"]))
    brain.greeting()
    await run_turn(brain, "My name is Ana Diaz.")
    await run_turn(brain, digits="4155551234")

    first, second = fake.exchanges
    assert first.system.startswith(compile_system_prompt(scheduler()).rstrip())
    assert (
        "Next: ask the caller for the customer name (text, field `customer_name`)" in first.system
    )
    assert "Captured so far: nothing yet." in first.system
    assert "Tuesday, December 1, 2026" in first.system
    # The backstop captured the name, so the next request asks for the phone.
    assert "Captured so far: customer name: Ana Diaz." in second.system
    assert "field `phone_number`" in second.system
    assert second.body["messages"][-1] == {
        "role": "user",
        "content": "(caller pressed keys: 4155551234)",
    }
    assert first.body["stream"] is True
    tool_names = {tool["function"]["name"] for tool in first.body["tools"]}
    assert tool_names == {"record_field", "end_call"}


async def test_read_back_guidance_then_yes_confirms_and_ends_the_call(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(
        Reply(
            text=["Got it."],
            tool_calls=[
                record("customer_name", "Ana Diaz"),
                record("phone_number", "415 555 1234"),
                record("preferred_date", "2026-12-01"),
                record("preferred_time", "15:30"),
                record("service_type", "cleaning"),
            ],
        ),
        Reply(text=["Wonderful, you're booked. ", "See you Tuesday!"]),
    )
    await run_turn(brain, "Ana Diaz, 415 555 1234, next Tuesday at 3:30 for a cleaning")
    events = await run_turn(brain, "Yes, that's right.")

    read_back = fake.exchanges[1].system
    assert "read these details back" in read_back
    assert "preferred date: Tuesday, December 1st; preferred time: 3:30 PM" in read_back
    assert brain.manager.confirmed == frozenset(brain.manager.captured)
    # The model forgot end_call; the goals are met, so the brain hangs up after its words.
    assert says(events) == ["Wonderful, you're booked.", "See you Tuesday!"]
    assert events[-1] == EndCall("completed")


# -- streaming ------------------------------------------------------------------------------------


async def test_first_clause_is_spoken_while_the_model_is_still_writing(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(
        Reply(
            text=["Happy to help with that, ", "Ana. ", "What day ", "would suit ", "you best?"],
            delay=0.25,
        )
    )
    started = time.monotonic()
    timeline: list[tuple[float, int, BrainEvent]] = []
    async for event in brain.reply(CallerTurn(text="I need an appointment")):
        timeline.append((time.monotonic() - started, fake.exchanges[0].chunks_sent, event))

    spoken = [(at, sent, e) for at, sent, e in timeline if isinstance(e, Say)]
    assert [e.text for _, _, e in spoken] == [
        "Happy to help with that,",
        "Ana.",
        "What day would suit you best?",
    ]
    assert isinstance(timeline[0][2], FirstToken) and timeline[0][2].source == "llm"
    total_chunks = 7  # the role chunk, five pieces of text, the finish
    first_at, first_sent, _ = spoken[0]
    assert first_sent <= 3 < total_chunks, "the first clause waited for the whole stream"
    assert spoken[-1][0] - first_at >= 0.5  # the rest was still being written


# -- tools ----------------------------------------------------------------------------------------


async def test_record_field_is_captured_and_invalid_values_are_rejected(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(
        Reply(
            text=["Thanks. ", "What time works?"],
            tool_calls=[record("preferred_date", "2026-12-01"), record("phone_number", "12")],
        )
    )
    events = await run_turn(brain, "The first of December. My number is twelve.")

    assert Captured("preferred_date", "2026-12-01") in events
    rejected = [e for e in events if isinstance(e, Rejected)]
    assert [e.name for e in rejected] == ["phone_number"] and rejected[0].reason
    assert brain.manager.captured == {"preferred_date": "2026-12-01"}
    assert not any(isinstance(e, EndCall) for e in events)
    # The model learns the verdicts: every tool call is answered in the next request's history.
    await run_turn(brain, "Three pm")
    tool_results = [m for m in fake.exchanges[1].body["messages"] if m["role"] == "tool"]
    assert tool_results[0]["content"] == "recorded '2026-12-01'"
    assert tool_results[1]["content"].startswith("refused:")


async def test_end_call_tool_ends_the_call_after_the_words(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(
        Reply(
            text=["No problem, ", "goodbye!"],
            tool_calls=[ToolCall("end_call", '{"reason": "caller declined"}')],
        )
    )
    events = await run_turn(brain, "Actually never mind, bye")
    assert says(events) == ["No problem, goodbye!"]
    assert events[-1] == EndCall("caller_declined")


async def test_tool_calls_without_words_still_answer_the_caller(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(Reply(tool_calls=[record("customer_name", "Ana Diaz")]))
    events = await run_turn(brain, "It's Ana Diaz")
    assert Captured("customer_name", "Ana Diaz") in events
    assert says(events) == ["Got it, Ana Diaz. What's the best number to reach you on?"]


async def test_a_server_that_ignores_tools_still_gets_the_date_captured(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(
        Reply(
            text=["Lovely, ", "and what time?"],
            tool_calls=[ToolCall("record_field", '{"name": "preferred_da')],  # broken JSON
        )
    )
    events = await run_turn(brain, "Could I come in next Tuesday?")
    assert Captured("preferred_date", "2026-12-08") in events  # TODAY is a Tuesday
    assert brain.manager.captured == {"preferred_date": "2026-12-08"}
    assert says(events) == ["Lovely, and what time?"]


# -- the caller never hears silence ---------------------------------------------------------------


async def test_server_error_is_answered_by_the_guided_brain(
    fake: FakeLLM, brain: OpenAIChatBrain, caplog: pytest.LogCaptureFixture
) -> None:
    fake.script(Reply(status=500))
    events = await run_turn(brain, "Um, my name is Ana Diaz.")
    assert events[0] == FirstToken("guided")
    assert says(events) == [guided_answer("Um, my name is Ana Diaz.")]
    assert Captured("customer_name", "Ana Diaz") in events
    assert "guided brain answers" in caplog.text and "500" in caplog.text
    # The next turn goes back to the LLM, which sees what the guided brain said.
    await run_turn(brain, "415 555 1234")
    assert fake.exchanges[1].body["messages"][-2] == {
        "role": "assistant",
        "content": guided_answer("Um, my name is Ana Diaz."),
    }


async def test_a_stalled_model_is_replaced_within_the_deadline(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(Reply(text=["Too late."], first_delay=5.0))
    started = time.monotonic()
    events = await run_turn(brain, "My name is Ana Diaz")
    elapsed = time.monotonic() - started

    assert DEADLINE_S <= elapsed < DEADLINE_S + 0.3
    assert events[0] == FirstToken("guided")
    assert says(events) == [guided_answer("My name is Ana Diaz")]
    # The abandoned request is hung up, not left running.
    await asyncio.wait_for(fake.exchanges[0].disconnected.wait(), 1.0)


async def test_connection_refused_is_answered_by_the_guided_brain() -> None:
    brain = make_brain(f"http://127.0.0.1:{find_free_port()}/v1")
    try:
        started = time.monotonic()
        events = await run_turn(brain, "My name is Ana Diaz")
    finally:
        await brain.client.close()
    assert time.monotonic() - started < DEADLINE_S + 0.3
    assert events[0] == FirstToken("guided")
    assert says(events) == [guided_answer("My name is Ana Diaz")]


async def test_an_invalid_stream_is_answered_by_the_guided_brain(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(Reply(raw=b"data: {this is not json\n\n"))
    events = await run_turn(brain, "My name is Ana Diaz")
    assert events[0] == FirstToken("guided")
    assert says(events) == [guided_answer("My name is Ana Diaz")]


async def test_a_stream_that_dies_mid_reply_keeps_what_was_said(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    start = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    choice = {"index": 0, "delta": {"content": "Sure, I can book that. Which "}}
    body = f"data: {json.dumps({**start, 'choices': [choice]})}\n\ndata: {{broken\n\n"
    fake.script(Reply(raw=body.encode()))
    events = await run_turn(brain, "I'd like an appointment")
    assert events[0] == FirstToken("llm")
    # The unfinished "Which" is dropped; the fallback does not repeat the turn.
    assert says(events) == ["Sure, I can book that."]


# -- history and barge-in -------------------------------------------------------------------------


async def test_heard_rewrites_the_history_the_model_sees(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(Reply(text=["We are open nine to five on weekdays. ", "What is your name?"]))
    await run_turn(brain, "When are you open?")
    brain.heard("We are open nine to five", interrupted=True)
    await run_turn(brain, "Sorry, go on")

    history = fake.exchanges[1].body["messages"]
    assert history[-2] == {
        "role": "assistant",
        "content": f"We are open nine to five {CUT_OFF_MARK}",
    }
    assert history[-1] == {"role": "user", "content": "Sorry, go on"}
    assert "What is your name?" not in json.dumps(history)


async def test_cancelling_mid_stream_hangs_up_the_request(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(Reply(text=["Let me see, ", "one moment. ", "Tuesday ", "works."], delay=1.0))
    first_say = asyncio.Event()

    async def listen() -> None:
        async for event in brain.reply(CallerTurn(text="Is Tuesday free?")):
            if isinstance(event, Say):
                first_say.set()

    task = asyncio.create_task(listen())
    await asyncio.wait_for(first_say.wait(), 5.0)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    exchange = fake.exchanges[0]
    await asyncio.wait_for(exchange.disconnected.wait(), 0.5)
    assert time.monotonic() - cancelled_at < 0.5
    assert not exchange.finished
    # What the caller heard so far is the history; the rest of the stream never arrives.
    brain.heard("Let me see,", interrupted=True)
    await run_turn(brain, "Hello?")
    assert fake.exchanges[1].body["messages"][-2]["content"] == f"Let me see, {CUT_OFF_MARK}"


async def test_closing_the_reply_at_a_sentence_hangs_up_the_request(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(Reply(text=["Let me see, ", "one moment. ", "Tuesday ", "works."], delay=1.0))
    replying = brain.reply(CallerTurn(text="Is Tuesday free?"))
    async for event in replying:  # the session stops reading as the caller cuts in
        if isinstance(event, Say):
            break
    closed_at = time.monotonic()
    await replying.aclose()  # type: ignore[attr-defined]

    exchange = fake.exchanges[0]
    await asyncio.wait_for(exchange.disconnected.wait(), 0.5)
    assert time.monotonic() - closed_at < 0.5
    assert not exchange.finished


# -- construction ---------------------------------------------------------------------------------


async def test_from_settings_builds_a_brain_sharing_the_guided_manager(fake: FakeLLM) -> None:
    settings = Settings.model_validate(
        {"LLM_BASE_URL": fake.url, "LLM_MODEL": "tiny", "LLM_FIRST_TOKEN_TIMEOUT_S": 0.7}
    )
    agent = scheduler()
    call = CallInput(call_sid="CA1", agent=agent, compiled_prompt=compile_system_prompt(agent))
    brain = OpenAIChatBrain.from_settings(settings, call, today=TODAY)
    try:
        assert brain.manager is brain.fallback.manager
        assert brain.first_token_timeout_s == 0.7
        assert brain.client.max_retries == 0
        await run_turn(brain, "hello")
    finally:
        await brain.client.close()
    assert fake.exchanges[0].body["model"] == "tiny"
    with pytest.raises(ValueError, match="LLM_BASE_URL or LLM_API_KEY"):
        OpenAIChatBrain.from_settings(Settings.model_validate({}), call, today=TODAY)


# -- the guided brain's part: backstop extraction and follow-up lines -----------------------------


def test_guided_capture_takes_only_what_the_words_clearly_state() -> None:
    guided = GuidedBrain(scheduler(), today=TODAY)
    # A question is no name, even while the name is being asked for.
    assert guided.capture("What are your opening hours") == ({}, {})
    assert guided.capture("my name is Ana Diaz, next Tuesday at 3:30 pm") == (
        {"customer_name": "Ana Diaz", "preferred_date": "2026-12-08", "preferred_time": "15:30"},
        {},
    )
    # While the phone is being asked for, spoken digits are the phone.
    assert guided.capture("four one five five five five one two three four")[0] == {
        "phone_number": "4155551234"
    }
    assert guided.next_line({"phone_number": "4155551234"}).endswith("which service do you need?")


def roles(exchange_body: dict[str, Any]) -> list[str]:
    return [m["role"] for m in exchange_body["messages"]]


async def test_history_alternates_turns_with_tool_results(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(Reply(text=["Thanks."], tool_calls=[record("customer_name", "Ana Diaz")]))
    brain.greeting()
    await run_turn(brain, "Ana Diaz")
    await run_turn(brain, "415 555 1234")
    assert roles(fake.exchanges[1].body) == [
        "system",
        "assistant",
        "user",
        "assistant",
        "tool",
        "user",
    ]


# -- a call picked up again after its stream was lost ---------------------------------------------


async def test_a_resumed_call_gives_the_model_the_conversation_so_far(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    transcript = [
        TurnEvent(1, Speaker.AGENT, "Thanks for calling. How can I help you today?"),
        TurnEvent(2, Speaker.CALLER, "Hi, this is Ana Diaz, I need a cleaning."),
        TurnEvent(3, Speaker.AGENT, "Got it, Ana Diaz. What's the best", interrupted=True),
    ]
    line = brain.resume({"customer_name": "Ana Diaz", "service_type": "cleaning"}, transcript)
    assert line.startswith("Sorry about that, we got cut off.")  # instant: no request made
    assert fake.exchanges == []
    fake.script(Reply(text=["Thanks, and what day works for you?"]))
    await run_turn(brain, "It's 415 555 1234.")

    (exchange,) = fake.exchanges
    history = exchange.body["messages"][1:]
    assert [(m["role"], m["content"]) for m in history] == [
        ("assistant", "Thanks for calling. How can I help you today?"),
        ("user", "Hi, this is Ana Diaz, I need a cleaning."),
        ("assistant", f"Got it, Ana Diaz. What's the best {CUT_OFF_MARK}"),
        ("assistant", line),
        ("user", "It's 415 555 1234."),
    ]
    assert "customer name: Ana Diaz" in exchange.system
