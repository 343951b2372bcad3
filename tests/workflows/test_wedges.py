"""Calls whose record could never be written: each one used to wedge its workflow (the write
retried forever, the record never closed, `call.completed` never sent). Each now finishes, with
the offending value cleaned or bounded, against real PostgreSQL and a real Temporal server."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from temporalio.client import Client
from temporalio.worker import Worker

from core.calls.cleaning import REASON_LIMIT
from core.calls.types import (
    CallEnded,
    CallResult,
    EndSource,
    FieldEvent,
    Speaker,
    StreamAttached,
    TurnEvent,
)
from core.db.models import Call, CallTurn
from core.db.session import make_sessionmaker
from tests.webhook_receiver import Receiver
from tests.workflows.calls import say, start
from workflows.call import CallWorkflow

FINISH = 60.0  # a wedged call never finishes; a healthy one takes a second or two


async def finished(handle: Any) -> CallResult:
    result: CallResult = await asyncio.wait_for(handle.result(), FINISH)
    return result


async def call_row(engine: Any, call_sid: str) -> Call:
    async with make_sessionmaker(engine)() as session:
        row = await session.scalar(select(Call).where(Call.call_sid == call_sid))
        assert row is not None
        return row


async def test_an_end_reason_longer_than_its_column_finishes_the_record(
    temporal_client: Client,
    worker: Worker,
    make_call: Any,
    task_queue: str,
    engine: Any,
    receiver: Receiver,
) -> None:
    call = await make_call()
    handle = await start(temporal_client, call, task_queue)
    # What an LLM's end_call may say: a sentence, not a code.
    reason = "The caller said they had to go pick up their kids from school. " * 5
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason=reason))
    result = await finished(handle)
    assert len(result.end_reason) <= REASON_LIMIT
    assert result.end_reason.startswith("the_caller_said_they_had_to_go")
    row = await call_row(engine, call.call_sid)
    assert row.status == "completed" and row.end_reason == result.end_reason
    assert await receiver.wait_for("/call")


async def test_sip_addresses_longer_than_32_characters_are_kept(
    temporal_client: Client,
    worker: Worker,
    make_call: Any,
    task_queue: str,
    engine: Any,
) -> None:
    call = await make_call()
    call.from_number = "sip:+14155550100@pbx.branch-office.example.com;transport=tls"
    call.to_number = "client:front-desk-reception-tablet-number-two"
    handle = await start(temporal_client, call, task_queue)
    await say(handle, 1, Speaker.AGENT, "Hello, how can I help?")
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="caller_hung_up"))
    await finished(handle)
    row = await call_row(engine, call.call_sid)
    assert row.status == "completed"
    assert row.from_number == call.from_number and row.to_number == call.to_number


async def test_nul_characters_in_turns_and_fields_are_dropped_not_retried(
    temporal_client: Client,
    worker: Worker,
    make_call: Any,
    task_queue: str,
    engine: Any,
    receiver: Receiver,
) -> None:
    call = await make_call()
    handle = await start(temporal_client, call, task_queue)
    await say(handle, 1, Speaker.AGENT, "Sure\x00, what name is it under?")
    await say(handle, 2, Speaker.CALLER, "Ana\x00 Lopez")
    await handle.signal(
        CallWorkflow.field_captured, FieldEvent(name="customer_name", value="Ana\x00 Lopez")
    )
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="done\x00"))
    result = await finished(handle)
    assert result.end_reason == "done"
    row = await call_row(engine, call.call_sid)
    assert row.status == "completed"
    assert row.extracted_data["customer_name"] == "Ana Lopez"
    async with make_sessionmaker(engine)() as session:
        texts = (
            await session.scalars(
                select(CallTurn.text).where(CallTurn.call_id == row.id).order_by(CallTurn.seq)
            )
        ).all()
    assert texts == ["Sure, what name is it under?", "Ana Lopez"]
    completed = (await receiver.wait_for("/call"))[0].json
    assert completed["data"]["transcript"][1]["text"] == "Ana Lopez"


async def test_turns_that_arrive_after_twilios_completed_status_are_kept(
    temporal_client: Client,
    worker: Worker,
    make_call: Any,
    task_queue: str,
    engine: Any,
    receiver: Receiver,
) -> None:
    call = await make_call()
    handle = await start(temporal_client, call, task_queue)
    await handle.signal(CallWorkflow.stream_attached, StreamAttached("MZ1", node_id="n1"))
    await say(handle, 1, Speaker.AGENT, "Hello, how can I help?")
    # Twilio's status callback wins the race against the realtime's last signals.
    await handle.signal(
        CallWorkflow.call_ended, CallEnded(reason="twilio_completed", source=EndSource.TWILIO)
    )
    await asyncio.sleep(0.5)
    await say(handle, 2, Speaker.CALLER, "Never mind, bye.")
    await handle.signal(
        CallWorkflow.turn_completed, TurnEvent(seq=3, speaker=Speaker.AGENT, text="Goodbye!")
    )
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="caller_hung_up"))
    result = await finished(handle)
    assert result.end_reason == "twilio_completed"
    completed = (await receiver.wait_for("/call"))[0].json
    assert [t["text"] for t in completed["data"]["transcript"]] == [
        "Hello, how can I help?",
        "Never mind, bye.",
        "Goodbye!",
    ]


async def test_a_field_event_sent_twice_is_applied_once(
    temporal_client: Client, worker: Worker, make_call: Any, task_queue: str
) -> None:
    call = await make_call()
    handle = await start(temporal_client, call, task_queue)
    first = FieldEvent(name="service_type", value="cleaning", turn_seq=2, event_id="2:service:1")
    await handle.signal(CallWorkflow.field_captured, first)
    correction = FieldEvent(name="service_type", value="filling", turn_seq=4, event_id="4:s:1")
    await handle.signal(CallWorkflow.field_captured, correction)
    # The first event again (re-sent from a spool after a crash) must not undo the correction.
    await handle.signal(CallWorkflow.field_captured, first)
    resume = await handle.query(CallWorkflow.resume)
    assert resume.captured["service_type"] == "filling"
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="done"))
    await finished(handle)
