"""Webhook bookkeeping never costs a delivery: with PostgreSQL unreachable the webhook still
goes out, and once the database is back the delivery's row says what happened.

The worker reaches PostgreSQL through a TCP proxy the tests cut (every connection reset, new ones
refused) for longer than the delivery may take to be recorded.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from temporalio.client import Client, WorkflowHandle

from core.calls.types import DeliveryInput, DeliveryResult, WebhookEvent, WebhookRetry
from core.db.models import WebhookDelivery
from core.db.session import make_async_engine, make_sessionmaker
from core.settings import Settings
from tests.conftest import add_call
from tests.tcp_proxy import TcpProxy, tcp_proxy
from tests.webhook_receiver import Receiver
from tests.workflows.calls import running_worker
from tests.workflows.test_durability import wait_until
from workflows.webhook import WebhookDeliveryWorkflow, record_deadline, webhook_workflow_id

# Short: recording is given min(60 s, deadline) and the test cuts the database for longer.
RETRY = WebhookRetry(initial_interval_s=0.2, maximum_interval_s=0.5, deadline_s=4)
RESULT_WAIT = 40.0


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    url = make_url(database_url)
    assert url.host is not None and url.port is not None
    async with tcp_proxy(url.host, url.port) as running:
        yield running


@pytest.fixture
async def proxied_worker(
    temporal_client: Client, call_settings: Settings, proxy: TcpProxy, database_url: str
) -> AsyncIterator[Any]:
    """A worker whose activities reach PostgreSQL only through `proxy`."""
    engine = make_async_engine(proxy.url_through(database_url), pool_size=2)
    try:
        async with running_worker(temporal_client, call_settings, engine) as worker:
            yield worker
    finally:
        proxy.restore()  # lets the pool close its connections
        await engine.dispose()


def delivery_to(receiver: Receiver, call_sid: str | None = None) -> DeliveryInput:
    return DeliveryInput(
        webhook_id=f"msg_{uuid.uuid4().hex}",
        event_type=WebhookEvent.CALL_COMPLETED,
        url=f"{receiver.url}/hook",
        payload={"type": "call.completed", "data": {"call_sid": call_sid, "outcome": "ok"}},
        call_sid=call_sid,
        retry=RETRY,
    )


async def start(
    client: Client, delivery: DeliveryInput, task_queue: str
) -> WorkflowHandle[Any, DeliveryResult]:
    return await client.start_workflow(
        WebhookDeliveryWorkflow.run,
        delivery,
        id=webhook_workflow_id(delivery.webhook_id),
        task_queue=task_queue,
    )


async def stored(engine: Any, webhook_id: str) -> WebhookDelivery | None:
    async with make_sessionmaker(engine)() as session:
        return await session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
        )


async def status_is(engine: Any, webhook_id: str, status: str) -> bool:
    row = await stored(engine, webhook_id)
    return row is not None and row.status == status


def answered(receiver: Receiver, code: str) -> int:
    return len([r for r in receiver.on("/hook") if r.headers.get("x-answered") == code])


async def test_a_webhook_goes_out_while_the_database_is_down_and_is_recorded_delivered_after(
    temporal_client: Client,
    proxied_worker: Any,
    proxy: TcpProxy,
    receiver: Receiver,
    engine: Any,
    task_queue: str,
) -> None:
    call = await add_call(engine)
    delivery = delivery_to(receiver, call.call_sid)
    proxy.cut()
    cut_at = time.monotonic()
    handle = await start(temporal_client, delivery, task_queue)

    async def received() -> bool:
        return answered(receiver, "200") > 0

    await wait_until(received, "the webhook to arrive while PostgreSQL is unreachable", timeout=20)
    await asyncio.sleep(1.5)  # the delivery's final bookkeeping meets the outage too
    assert time.monotonic() - cut_at > record_deadline(RETRY).total_seconds()
    assert await stored(engine, delivery.webhook_id) is None
    proxy.restore()

    result = await asyncio.wait_for(handle.result(), RESULT_WAIT)
    assert result.delivered and result.attempts == 1
    row = await stored(engine, delivery.webhook_id)
    assert row is not None
    assert (row.status, row.url, row.payload) == ("delivered", delivery.url, delivery.payload)
    assert (row.event_type, row.call_id) == ("call.completed", call.id)
    assert answered(receiver, "200") == 1  # an unrecorded attempt is not sent again


async def test_a_delivery_that_fails_while_the_database_is_down_becomes_a_replayable_dead_letter(
    temporal_client: Client,
    proxied_worker: Any,
    proxy: TcpProxy,
    receiver: Receiver,
    engine: Any,
    task_queue: str,
    client: httpx.AsyncClient,
) -> None:
    receiver.always_fail.add("/hook")
    call = await add_call(engine)  # a delivery is listed to the organization of its call
    delivery = delivery_to(receiver, call.call_sid)
    proxy.cut()
    handle = await start(temporal_client, delivery, task_queue)

    async def attempted_twice() -> bool:
        return answered(receiver, "500") >= 2

    await wait_until(attempted_twice, "attempts while PostgreSQL is unreachable", timeout=20)
    # Past the delivery's deadline: it is given up while the database is still away.
    await asyncio.sleep(RETRY.deadline_s + 1)
    assert await stored(engine, delivery.webhook_id) is None
    proxy.restore()

    result = await asyncio.wait_for(handle.result(), RESULT_WAIT)
    assert not result.delivered and result.error
    assert await status_is(engine, delivery.webhook_id, "failed")

    dead_letters = (
        await client.get("/api/webhooks/deliveries", params={"status": "failed"})
    ).json()
    (dead,) = [d for d in dead_letters if d["webhook_id"] == delivery.webhook_id]
    assert dead["url"] == delivery.url and dead["payload"] == delivery.payload

    receiver.always_fail.clear()
    replay = await client.post(f"/api/webhooks/deliveries/{dead['id']}/replay")
    assert replay.status_code == 202, replay.text
    await receiver.wait_for("/hook", timeout=20)
    await wait_until(
        lambda: status_is(engine, delivery.webhook_id, "delivered"), "the replay to be recorded"
    )
    (ok,) = [r for r in receiver.on("/hook") if r.headers.get("x-answered") == "200"]
    assert ok.headers["webhook-id"] == delivery.webhook_id
