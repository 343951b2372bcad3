"""The whole platform for scenario tests: the API on a real socket, an in-process Temporal
worker, the realtime media server on a real socket with the real CPU engines, and the Dental
Clinic Booking agent (name, phone, date, time, service) with its webhooks pointed at a local
receiver. Calls are placed by the simulated caller, which speaks to all of it as Twilio would."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from core.calls.media import media_stream_url
from core.calls.temporal import connect_temporal
from core.settings import Settings
from realtime.runtime import Engines
from realtime.server import MediaServer
from tests.conftest import EXAMPLES_DIR, PAYLOAD_KEYS, forget_nodes
from tests.local_server import serve
from tests.webhook_receiver import Receiver, run_receiver
from tests.workflows.calls import running_worker
from workers.caller.caller import SimulatedCaller
from workers.caller.records import finished_call as wait_for_finished_call
from workers.caller.report import CallReport
from workers.caller.script import parse_script
from workers.services import EmbeddedTemporal

# The scenarios' callers give a name and a phone number before the booking itself: the dental
# clinic's goal writes those out, where the plan's Appointment Scheduler infers date, time and
# service only.
AGENT_FILE = "dental_clinic.json"


@pytest.fixture(scope="session")
def engines() -> Engines:
    """The CPU engines, loaded once for every scenario (as the realtime process does)."""
    return Engines.from_settings(Settings())


@dataclass
class Platform:
    """A running platform and a way to call it."""

    settings: Settings
    api_url: str
    realtime_url: str
    api: httpx.AsyncClient
    agent: dict[str, Any]
    receiver: Receiver
    server: MediaServer
    temporal: Client

    async def call(self, steps: list[dict[str, Any]], **options: Any) -> CallReport:
        """Place one simulated call to the agent with this script."""
        caller = SimulatedCaller(
            self.api_url,
            parse_script(steps),
            auth_token=self.settings.twilio_auth_token.get_secret_value(),
            agent_id=int(self.agent["id"]),
            **options,
        )
        return await caller.run()


async def finished_call(world: Platform, call_sid: str) -> dict[str, Any]:
    """The call as the API shows it once its workflow has finished."""
    return await wait_for_finished_call(world.api, call_sid)


PlatformFactory = Callable[..., Awaitable[Platform]]


@pytest.fixture
async def platform(
    settings: Settings,
    engine: Any,
    api_key: str,
    engines: Engines,
    temporal_server: EmbeddedTemporal,
) -> AsyncIterator[PlatformFactory]:
    """`await platform(brain_for=…, **session_settings)` starts everything (a brain factory and
    conversation timing replace the defaults); all of it stops after the test."""
    stack: list[Any] = []

    async def start(
        brain_for: Any = None, *, join: bool = True, capacity: int | None = None, **session: Any
    ) -> Platform:
        """`join=False`: the in-process realtime node serves but is not in the registry yet
        (`world.server.join(...)` later); `capacity`: its MAX_CONCURRENT_CALLS."""
        temporal = await connect_temporal(temporal_server.address, "default", PAYLOAD_KEYS)
        queue = f"calls-{uuid.uuid4().hex[:8]}"
        update: dict[str, Any] = {"temporal_task_queue": queue}
        if capacity is not None:
            update["max_concurrent_calls"] = capacity
        base = settings.model_copy(update=update)
        await forget_nodes(base.redis_url)
        tuned = dataclasses.replace(
            engines,
            session=dataclasses.replace(engines.session, **session),
            brain_for=brain_for or engines.brain_for,
        )
        server = MediaServer(settings=base, engines=tuned, temporal=temporal)
        receiver_cm = run_receiver()
        receiver = await receiver_cm.__aenter__()
        stack.append(receiver_cm)
        realtime_cm = serve(server.app())
        realtime_url = await realtime_cm.__aenter__()
        stack.append(realtime_cm)
        stack.append(server)  # leaves the registry before its socket closes
        if join:
            await server.join(base.redis_url, media_stream_url(realtime_url))
        # The webhook receiver is on loopback: this platform allows private destinations.
        call_settings = base.model_copy(
            update={"realtime_public_url": realtime_url, "webhook_allow_private": True}
        )
        worker_cm = running_worker(temporal, call_settings, engine)
        await worker_cm.__aenter__()
        stack.append(worker_cm)
        api_cm = serve(create_app(call_settings, engine=engine))
        api_url = await api_cm.__aenter__()
        stack.append(api_cm)
        api = httpx.AsyncClient(
            base_url=api_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )
        stack.append(api)
        document = json.loads((EXAMPLES_DIR / AGENT_FILE).read_text())
        document["goals"][0]["completion_webhook"] = f"{receiver.url}/goal"
        document["webhook_urls"] = [f"{receiver.url}/call"]
        created = await api.post("/api/agents", json=document)
        assert created.status_code == 201, created.text
        return Platform(
            settings=call_settings,
            api_url=api_url,
            realtime_url=realtime_url,
            api=api,
            agent=created.json(),
            receiver=receiver,
            server=server,
            temporal=temporal,
        )

    yield start
    for item in reversed(stack):
        if isinstance(item, httpx.AsyncClient):
            await item.aclose()
        elif isinstance(item, MediaServer):
            await item.leave()
        else:
            await item.__aexit__(None, None, None)
