"""Fixtures for call workflows: a worker on its own task queue, against the session's real
Temporal dev server and a fresh database per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from core.agents.builder import AgentBuilder
from core.calls.temporal import connect_temporal
from core.calls.types import CallInput, Direction, WebhookRetry
from core.db.session import make_sessionmaker
from core.organizations import default_organization
from core.settings import Settings
from tests.conftest import PAYLOAD_KEYS, app_client
from tests.webhook_receiver import Receiver, run_receiver
from tests.workflows.calls import running_worker
from workers.services import EmbeddedTemporal

FAST_RETRY = WebhookRetry(initial_interval_s=0.2, maximum_interval_s=0.5, deadline_s=60)


@pytest.fixture
def task_queue() -> str:
    return f"calls-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def call_settings(settings: Settings, task_queue: str) -> Settings:
    return settings.model_copy(update={"temporal_task_queue": task_queue})


@pytest.fixture
async def temporal_client(temporal_server: EmbeddedTemporal) -> Client:
    return await connect_temporal(temporal_server.address, "default", PAYLOAD_KEYS)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with run_receiver() as r:
        yield r


@pytest.fixture
async def worker(
    temporal_client: Client, call_settings: Settings, engine: Any
) -> AsyncIterator[Worker]:
    async with running_worker(temporal_client, call_settings, engine) as built:
        yield built


@pytest.fixture
def make_call(engine: Any, receiver: Receiver) -> Any:
    """Create the Dental Clinic Booking agent (webhooks to the receiver) and a call input.

    Its goal writes out the rich booking these tests drive (name, phone, date, time, service),
    so a call can meet the goal and still miss data."""

    async def make(
        *,
        max_call_seconds: float = 600,
        inactivity_seconds: float = 600,
        retry: WebhookRetry = FAST_RETRY,
        goal_name: str | None = None,
    ) -> CallInput:
        import json

        from tests.conftest import EXAMPLES_DIR

        document = json.loads((EXAMPLES_DIR / "dental_clinic.json").read_text())
        document["goals"][0]["completion_webhook"] = f"{receiver.url}/goal"
        if goal_name is not None:
            document["goals"][0]["name"] = goal_name
        document["webhook_urls"] = [f"{receiver.url}/call"]
        async with make_sessionmaker(engine)() as session:
            organization = await default_organization(session)
            builder = AgentBuilder(session, organization.id)
            agent = await builder.create_agent(document["template_id"], document)
            call = await builder.call_input(
                agent.id,
                call_sid=f"CA{uuid.uuid4().hex}",
                direction=Direction.INBOUND,
                from_number="+14155550100",
                to_number="+14155550199",
                webhook_retry=retry,
            )
        call.max_call_seconds = max_call_seconds
        call.inactivity_seconds = inactivity_seconds
        return call

    return make


@pytest.fixture
async def anon_client(call_settings: Settings, engine: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API, starting workflows on this test's task queue."""
    async with app_client(call_settings, engine) as client:
        yield client
