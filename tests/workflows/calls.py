"""Driving a call workflow the way the realtime process does, for the workflow tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook
from temporalio.client import Client, WorkflowHandle

from api.routes.calls import start_call_workflow
from core.calls.types import CallInput, CallResult, FieldEvent, Speaker, TurnEvent
from core.db.session import make_sessionmaker
from core.settings import Settings
from workers.worker import build_worker
from workflows.call import CallWorkflow

BOOKING = {"preferred_date": "2026-12-02", "preferred_time": "15:30", "service_type": "cleaning"}


async def start(client: Client, call: CallInput, task_queue: str) -> WorkflowHandle[Any, Any]:
    workflow_id = await start_call_workflow(client, call, task_queue=task_queue)
    return client.get_workflow_handle(workflow_id, result_type=CallResult)


async def say(handle: WorkflowHandle[Any, Any], seq: int, speaker: Speaker, text: str) -> None:
    await handle.signal(CallWorkflow.turn_completed, TurnEvent(seq=seq, speaker=speaker, text=text))


async def book(handle: WorkflowHandle[Any, Any]) -> None:
    await say(handle, 1, Speaker.AGENT, "Thanks for calling, how can I help?")
    await say(handle, 2, Speaker.CALLER, "I'd like a cleaning on December 2nd at 3:30 pm")
    for name, value in BOOKING.items():
        await handle.signal(CallWorkflow.field_captured, FieldEvent(name=name, value=value))


def verify(secret: str, request: Any) -> dict[str, Any]:
    """Check a webhook with the reference Standard Webhooks verifier (it raises if bad)."""
    headers = {k: v for k, v in request.headers.items() if k.startswith("webhook-")}
    return Webhook(secret).verify(request.body, headers)  # type: ignore[no-any-return]


@asynccontextmanager
async def running_worker(
    client: Client, settings: Settings, engine: Any, *, twilio: Any = None
) -> AsyncIterator[Any]:
    """An in-process worker for `settings`' task queue, with no LLM, for the block's duration."""
    async with httpx.AsyncClient(timeout=5) as http:
        worker = build_worker(
            client,
            settings=settings,
            sessions=make_sessionmaker(engine),
            http=http,
            llm=None,
            twilio=twilio,
        )
        async with worker:
            yield worker
