"""The calls API: an outbound call through (a local stand-in for) Twilio's REST API, listed,
watched live, ended; its transcript read back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from core.calls.types import FieldEvent, Speaker, TurnEvent
from core.settings import Settings
from core.twilio_rest import make_twilio_client
from tests.conftest import EXAMPLES_DIR, app_client
from tests.fake_twilio import FakeTwilio, run_fake_twilio
from tests.workflows.calls import running_worker

ACCOUNT = "AC" + "0" * 32


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with run_fake_twilio(ACCOUNT, "test-twilio-token") as fake:
        yield fake


@pytest.fixture
def twilio_settings(call_settings: Settings, twilio: FakeTwilio) -> Settings:
    return call_settings.model_copy(
        update={
            "twilio_account_sid": ACCOUNT,
            "twilio_api_base_url": twilio.url,
            "twilio_from_number": "+14155550100",
            "public_base_url": "https://voice.example.test",
            "temporal_ui_url": "http://127.0.0.1:8233",
        }
    )


@pytest.fixture
async def api(
    twilio_settings: Settings, engine: Any, api_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(twilio_settings, engine, api_key) as client:
        # Outbound calls need the organization to allow the numbers (toll-fraud guard).
        allowed = await client.patch("/api/organization", json={"allowed_call_prefixes": ["+1"]})
        assert allowed.status_code == 200, allowed.text
        yield client


@pytest.fixture
async def twilio_worker(
    temporal_client: Client, twilio_settings: Settings, engine: Any
) -> AsyncIterator[None]:
    twilio = make_twilio_client(twilio_settings)
    async with running_worker(temporal_client, twilio_settings, engine, twilio=twilio):
        yield


async def wait_status(api: httpx.AsyncClient, sid: str, status: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            response = await api.get(f"/api/calls/{sid}")
            if response.status_code == 200 and response.json()["status"] == status:
                return response.json()  # type: ignore[no-any-return]
            await asyncio.sleep(0.1)


async def test_outbound_call_lifecycle(
    api: httpx.AsyncClient, twilio: FakeTwilio, twilio_worker: None, temporal_client: Client
) -> None:
    document = json.loads((EXAMPLES_DIR / "appointment_scheduler.json").read_text())
    agent = (await api.post("/api/agents", json=document)).json()

    created = await api.post("/api/calls", json={"agent_id": agent["id"], "to": "+14155550123"})
    assert created.status_code == 201, created.text
    sid = created.json()["call_sid"]
    assert created.json()["workflow_id"] == f"call-{sid}"
    [form] = twilio.created
    assert form["To"] == ["+14155550123"] and form["From"] == ["+14155550100"]
    assert form["Url"] == [f"https://voice.example.test/twilio/voice?agent={agent['id']}"]
    assert form["StatusCallback"] == ["https://voice.example.test/twilio/status"]

    running = await wait_status(api, sid, "in_progress")
    assert running["direction"] == "outbound" and running["agent_id"] == agent["id"]
    handle = temporal_client.get_workflow_handle(f"call-{sid}")
    await handle.signal("turn_completed", TurnEvent(seq=1, speaker=Speaker.AGENT, text="Hello!"))
    await handle.signal("field_captured", FieldEvent(name="service", value="checkup"))
    async with asyncio.timeout(10):
        while (
            not (live := (await api.get(f"/api/calls/{sid}")).json()["progress"])
            or not live["captured"]
        ):
            await asyncio.sleep(0.1)
    assert live["captured"] == {"service": "checkup"}
    assert live["next_action"]["kind"] == "ask"
    assert running["temporal_ui_url"].endswith(f"/workflows/call-{sid}")

    listed = (await api.get(f"/api/calls?agent_id={agent['id']}&status=in_progress")).json()
    assert [c["call_sid"] for c in listed] == [sid]
    assert (await api.get("/api/calls?status=completed")).json() == []

    ended = await api.post(f"/api/calls/{sid}/end", json={"reason": "admin_test"})
    assert ended.status_code == 202
    done = await wait_status(api, sid, "completed")
    assert done["end_reason"] == "admin_test"
    assert [t["text"] for t in done["transcript"]] == ["Hello!"]
    assert done["extracted_data"] == {"service": "checkup"}
    assert done["progress"] is None
    assert (await api.post(f"/api/calls/{sid}/end")).status_code == 409


async def test_timer_hangs_up_through_twilio(
    api: httpx.AsyncClient, twilio: FakeTwilio, twilio_worker: None
) -> None:
    document = json.loads((EXAMPLES_DIR / "appointment_scheduler.json").read_text())
    agent = (await api.post("/api/agents", json={**document, "inactivity_seconds": 5})).json()
    sid = (
        await api.post("/api/calls", json={"agent_id": agent["id"], "to": "+14155550123"})
    ).json()["call_sid"]
    done = await wait_status(api, sid, "completed")
    assert done["end_reason"] == "inactivity"
    assert twilio.updated == [(sid, {"Status": ["completed"]})]


async def test_outbound_call_needs_twilio_and_a_real_agent(
    client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    agent = (await api.post("/api/agents", json={"name": "Dialer", "template_id": 1})).json()
    unconfigured = await client.post(
        "/api/calls", json={"agent_id": agent["id"], "to": "+14155550123"}
    )
    assert unconfigured.status_code == 409
    assert "TWILIO_ACCOUNT_SID" in unconfigured.json()["detail"]
    missing = await api.post("/api/calls", json={"agent_id": 999, "to": "+14155550123"})
    assert missing.status_code == 404
    bad_number = await api.post("/api/calls", json={"agent_id": 1, "to": "555"})
    assert bad_number.status_code == 422
    assert bad_number.json()["detail"][0]["loc"] == ["body", "to"]
    assert (await api.get("/api/calls/CAnope")).status_code == 404
