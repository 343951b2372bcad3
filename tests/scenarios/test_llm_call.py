"""A call answered by the LLM brain (a local server speaking the streamed chat-completions
protocol), with one turn falling back to the guided brain."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator

import pytest

from core.calls.types import CallInput
from core.fields import DataField
from core.fields.phrasing import question
from realtime.brains.openai_chat import OpenAIChatBrain
from realtime.metrics import LLM_FALLBACKS_TOTAL
from tests.fake_llm import FakeLLM, Reply, ToolCall, run_fake_llm
from tests.scenarios.conftest import PlatformFactory, finished_call


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with run_fake_llm() as fake:
        yield fake


async def test_the_llm_answers_records_fields_and_falls_back(
    platform: PlatformFactory, llm: FakeLLM
) -> None:
    llm.script(
        Reply(
            text=["Nice to meet you, Jane.", " What number can I reach you on?"],
            tool_calls=[
                ToolCall("record_field", '{"name": "customer_name", "value": "Jane Smith"}')
            ],
            delay=0.05,
        ),
        Reply(status=500),
    )

    def brain_for(call: CallInput) -> OpenAIChatBrain:
        settings = world_settings.model_copy(
            update={"llm_base_url": llm.url, "llm_model": "fake", "brain": "openai"}
        )
        return OpenAIChatBrain.from_settings(settings, call, today=dt.date(2026, 11, 25))

    fallbacks = LLM_FALLBACKS_TOTAL._value.get()  # noqa: SLF001
    world = await platform(brain_for=brain_for)
    world_settings = world.settings
    report = await world.call(
        [
            {"say": "Hi, my name is Jane Smith."},
            {"say": "My number is five five five, one two three, four five six seven."},
            {"hangup": True},
        ]
    )
    assert report.ended_by == "caller"
    call = await finished_call(world, report.call_sid)
    agent = [t["text"] for t in call["transcript"] if t["speaker"] == "agent"]
    # The LLM's words were spoken; the failed turn was answered by the guided brain, which
    # took the phone number and asks for the date: the name the LLM recorded with its tool call
    # is in the same goal progress, so it is not asked again.
    assert "Nice to meet you, Jane." in agent[1], agent
    fields = {f["name"]: f for f in world.agent["goals"][0]["required_data"]}
    asks_for_the_date = question(DataField.model_validate(fields["preferred_date"]))
    assert "555" in agent[2].replace(" ", "") and agent[2].endswith(asks_for_the_date), agent
    assert LLM_FALLBACKS_TOTAL._value.get() == fallbacks + 1  # noqa: SLF001
    # The compiled prompt reached the model.
    assert world.agent["name"] in llm.exchanges[0].system


async def test_a_sentence_breaking_a_dont_is_never_spoken_and_is_signalled(
    platform: PlatformFactory, llm: FakeLLM
) -> None:
    llm.script(Reply(text=["A cleaning costs fifty dollars.", " What number can I reach you on?"]))

    def brain_for(call: CallInput) -> OpenAIChatBrain:
        settings = world.settings.model_copy(update={"llm_base_url": llm.url, "llm_model": "m"})
        return OpenAIChatBrain.from_settings(settings, call, today=dt.date(2026, 11, 25))

    world = await platform(brain_for=brain_for)
    report = await world.call([{"say": "Hi, my name is Jane Smith."}, {"hangup": True}])
    call = await finished_call(world, report.call_sid)
    agent = [t["text"] for t in call["transcript"] if t["speaker"] == "agent"]
    assert agent[1] == "What number can I reach you on?", agent
    heard = " ".join(t.text for t in report.transcript if t.speaker == "agent").lower()
    assert "dollars" not in heard and "fifty" not in heard, heard
    # The breach travelled with the turn to the workflow (visible in the Temporal UI).
    handle = world.temporal.get_workflow_handle(f"call-{report.call_sid}")
    signals = [
        event.workflow_execution_signaled_event_attributes
        async for event in handle.fetch_history_events()
        if event.HasField("workflow_execution_signaled_event_attributes")
    ]
    # Sealed in history (core/codec.py): the client's converter opens them.
    converter = world.temporal.data_converter
    payloads = " ".join(
        [
            json.dumps(value, ensure_ascii=False)
            for s in signals
            if s.signal_name == "turn_completed"
            for value in await converter.decode(list(s.input.payloads))
        ]
    )
    assert "Don't discuss pricing" in payloads, payloads[:500]
