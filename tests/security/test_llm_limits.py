"""The LLM brain's limits, against the local OpenAI-compatible server (tests/fake_llm.py): every
request carries `max_tokens`, the history sent is bounded, `end_call` takes only known reasons,
and `record_field` stores only what the field's checks accept."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI

from core.agents.prompt import compile_system_prompt
from realtime.brains.base import BrainEvent, CallerTurn, Captured, EndCall, Rejected
from realtime.brains.guided import GuidedBrain
from realtime.brains.openai_chat import OpenAIChatBrain
from tests.fake_llm import FakeLLM, Reply, ToolCall, run_fake_llm
from tests.realtime.test_guided_brain import TODAY, scheduler

HISTORY_TURNS = 12  # LLM_HISTORY_TURNS' default
MAX_TOKENS = 200  # LLM_MAX_TOKENS' default


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    async with run_fake_llm() as server:
        yield server


@pytest.fixture
async def brain(fake: FakeLLM) -> AsyncIterator[OpenAIChatBrain]:
    agent = scheduler()
    client = AsyncOpenAI(base_url=fake.url, api_key="test-key", max_retries=0, timeout=5.0)
    made = OpenAIChatBrain(
        compile_system_prompt(agent),
        client=client,
        model="fake-model",
        fallback=GuidedBrain(agent, today=TODAY),
        first_token_timeout_s=2.0,
    )
    yield made
    await client.close()


async def run_turn(brain: OpenAIChatBrain, text: str) -> list[BrainEvent]:
    return [event async for event in brain.reply(CallerTurn(text=text))]


def end_call(reason: str) -> ToolCall:
    return ToolCall("end_call", json.dumps({"reason": reason}))


async def test_every_request_asks_for_at_most_max_tokens(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(Reply(text=["Sure, ", "what day works?"]))
    await run_turn(brain, "I'd like a cleaning.")
    assert fake.exchanges[0].body["max_tokens"] == MAX_TOKENS


async def test_the_history_sent_is_bounded_and_older_turns_are_summarised(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    turns = HISTORY_TURNS + 8
    for n in range(turns):
        tools = [ToolCall("record_field", json.dumps({"name": "customer_name", "value": "Jane"}))]
        fake.script(Reply(text=[f"Reply number {n}, ", "go on."], tool_calls=tools if n else []))
        await run_turn(brain, f"Caller line number {n}.")
    last = fake.exchanges[-1].body["messages"]
    said = [m["content"] for m in last if m["role"] == "user"]
    assert said == [f"Caller line number {n}." for n in range(turns - HISTORY_TURNS, turns)]
    # Every tool answer sent still follows the assistant message that made the call.
    offered = {c["id"] for m in last if m["role"] == "assistant" for c in m.get("tool_calls", [])}
    assert all(m["tool_call_id"] in offered for m in last if m["role"] == "tool")
    assert "8 earlier exchanges of this call are not shown" in last[0]["content"]
    assert "Jane" in last[0]["content"]  # what they settled is still there
    # The brain itself holds no more than it sends.
    assert sum(1 for m in brain._messages if m["role"] == "user") == HISTORY_TURNS


async def test_an_invented_end_reason_is_refused_and_the_call_goes_on(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(
        Reply(text=["Okay, ", "bye!"], tool_calls=[end_call("free pizza for everyone")]),
        Reply(text=["Goodbye then!"], tool_calls=[end_call("Caller request")]),
    )
    events = await run_turn(brain, "Give me free pizza and hang up.")
    assert not any(isinstance(e, EndCall) for e in events)
    events = await run_turn(brain, "Bye.")
    assert events[-1] == EndCall("caller_request")
    [answer] = [m for m in fake.exchanges[1].body["messages"] if m["role"] == "tool"]
    assert answer["content"].startswith("refused:") and "caller_request" in answer["content"]
    # The model is told the reasons it may give.
    [end_tool] = [t for t in fake.exchanges[0].body["tools"] if t["function"]["name"] == "end_call"]
    assert "completed" in end_tool["function"]["parameters"]["properties"]["reason"]["enum"]


async def test_tool_values_the_field_checks_refuse_are_not_stored(
    fake: FakeLLM, brain: OpenAIChatBrain
) -> None:
    fake.script(
        Reply(
            text=["Got it, ", "what time?"],
            tool_calls=[
                ToolCall("record_field", json.dumps({"name": "preferred_date", "value": "banana"})),
                ToolCall(
                    "record_field", json.dumps({"name": "customer_name", "value": "x" * 5000})
                ),
                ToolCall("record_field", json.dumps({"name": "y" * 500, "value": "1"})),
                ToolCall("record_field", json.dumps({"name": "service_type", "value": "cleaning"})),
            ],
        ),
        Reply(text=["Thanks."]),
    )
    events = await run_turn(brain, "Banana day, for a cleaning.")
    assert [e for e in events if isinstance(e, Captured)] == [Captured("service_type", "cleaning")]
    rejected = [e for e in events if isinstance(e, Rejected)]
    assert {e.name for e in rejected} >= {"preferred_date", "customer_name"}
    assert all(len(e.name) <= 64 for e in rejected)  # a model's invention, bounded for the log
    assert brain.manager.captured == {"service_type": "cleaning"}
    await run_turn(brain, "Three pm.")
    answers = [m["content"] for m in fake.exchanges[1].body["messages"] if m["role"] == "tool"]
    assert [a.startswith("refused:") for a in answers] == [True, True, True, False]
