"""Twilio's webhooks, signed exactly as Twilio signs them, against the real Temporal server."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from twilio.request_validator import RequestValidator

from core.calls.temporal import connect_temporal
from core.calls.tokens import verify_call_token
from core.settings import Settings
from tests.conftest import EXAMPLES_DIR, app_client
from workers.services import EmbeddedTemporal

BASE = "https://voice.example.test"
NUMBER = "+14155550111"


@pytest.fixture
def twilio_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"public_base_url": BASE, "temporal_task_queue": f"calls-{uuid.uuid4().hex[:8]}"}
    )


@pytest.fixture
async def twilio_app(
    twilio_settings: Settings, engine: Any, api_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(twilio_settings, engine, api_key) as client:
        yield client


@pytest.fixture
async def agent(twilio_app: httpx.AsyncClient) -> dict[str, Any]:
    document = json.loads((EXAMPLES_DIR / "appointment_scheduler.json").read_text())
    created = await twilio_app.post("/api/agents", json={**document, "phone_numbers": [NUMBER]})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


@pytest.fixture
async def temporal(temporal_server: EmbeddedTemporal) -> Client:
    return await connect_temporal(temporal_server.address, "default")


def sign(settings: Settings, path: str, form: dict[str, str]) -> dict[str, str]:
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    return {
        "X-Twilio-Signature": validator.compute_signature(f"{BASE}{path}", form),
        "content-type": "application/x-www-form-urlencoded",
    }


async def post(
    client: httpx.AsyncClient, settings: Settings, path: str, form: dict[str, str]
) -> httpx.Response:
    return await client.post(path, content=urlencode(form), headers=sign(settings, path, form))


def call_form(call_sid: str, to: str = NUMBER) -> dict[str, str]:
    return {"CallSid": call_sid, "From": "+14155550100", "To": to, "Direction": "inbound"}


async def test_unsigned_or_badly_signed_requests_get_403(
    twilio_app: httpx.AsyncClient, twilio_settings: Settings
) -> None:
    form = call_form("CA1")
    unsigned = await twilio_app.post("/twilio/voice", data=form)
    assert unsigned.status_code == 403
    forged = await twilio_app.post(
        "/twilio/voice", data=form, headers={"X-Twilio-Signature": "AAAA"}
    )
    assert forged.status_code == 403
    tampered = sign(twilio_settings, "/twilio/voice", form)
    response = await twilio_app.post(
        "/twilio/voice", content=urlencode({**form, "To": "+19999999999"}), headers=tampered
    )
    assert response.status_code == 403
    assert (await twilio_app.post("/twilio/status", data=form)).status_code == 403


async def test_inbound_call_gets_a_stream_with_a_valid_token_and_a_workflow(
    twilio_app: httpx.AsyncClient,
    twilio_settings: Settings,
    agent: dict[str, Any],
    temporal: Client,
) -> None:
    call_sid = "CA" + uuid.uuid4().hex
    response = await post(twilio_app, twilio_settings, "/twilio/voice", call_form(call_sid))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    stream = ElementTree.fromstring(response.text).find("./Connect/Stream")
    assert stream is not None
    assert stream.get("url") == "wss://voice.example.test/twilio/media"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    claims = verify_call_token(
        twilio_settings.call_token_secret.get_secret_value(), params["token"] or ""
    )
    assert claims.call_sid == call_sid and claims.agent_id == agent["id"]

    description = await temporal.get_workflow_handle(f"call-{call_sid}").describe()
    assert description.workflow_type == "CallWorkflow"
    again = await post(twilio_app, twilio_settings, "/twilio/voice", call_form(call_sid))
    assert again.status_code == 200  # Twilio retried: the same workflow, no error


async def test_plain_http_base_gets_a_ws_stream(
    twilio_app: httpx.AsyncClient, twilio_settings: Settings, agent: dict[str, Any]
) -> None:
    from api.routes.twilio import media_stream_url

    class Req:
        base_url = "http://127.0.0.1:8000/"

    http_settings = twilio_settings.model_copy(update={"public_base_url": "http://127.0.0.1:8000"})
    assert media_stream_url(http_settings, Req()) == "ws://127.0.0.1:8000/twilio/media"  # type: ignore[arg-type]


async def test_agent_by_query_parameter_and_unknown_numbers(
    twilio_app: httpx.AsyncClient, twilio_settings: Settings, agent: dict[str, Any]
) -> None:
    path = f"/twilio/voice?agent={agent['id']}"
    form = call_form("CA" + uuid.uuid4().hex, to="+15550000000")
    validator = RequestValidator(twilio_settings.twilio_auth_token.get_secret_value())
    headers = {
        "X-Twilio-Signature": validator.compute_signature(f"{BASE}{path}", form),
        "content-type": "application/x-www-form-urlencoded",
    }
    by_param = await twilio_app.post(path, content=urlencode(form), headers=headers)
    assert ElementTree.fromstring(by_param.text).find("./Connect/Stream") is not None

    unknown = await post(
        twilio_app, twilio_settings, "/twilio/voice", call_form("CAx", to="+15550000000")
    )
    root = ElementTree.fromstring(unknown.text)
    assert root.find("./Say") is not None and root.find("./Hangup") is not None


async def test_final_status_callback_ends_the_call(
    twilio_app: httpx.AsyncClient,
    twilio_settings: Settings,
    agent: dict[str, Any],
    temporal: Client,
) -> None:
    call_sid = "CA" + uuid.uuid4().hex
    await post(twilio_app, twilio_settings, "/twilio/voice", call_form(call_sid))
    ringing = await post(
        twilio_app,
        twilio_settings,
        "/twilio/status",
        {"CallSid": call_sid, "CallStatus": "ringing"},
    )
    assert ringing.status_code == 204
    done = await post(
        twilio_app,
        twilio_settings,
        "/twilio/status",
        {"CallSid": call_sid, "CallStatus": "completed"},
    )
    assert done.status_code == 204
    history = await temporal.get_workflow_handle(f"call-{call_sid}").fetch_history()
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert signals == ["call_ended"]
    unknown = await post(
        twilio_app, twilio_settings, "/twilio/status", {"CallSid": "CAnone", "CallStatus": "failed"}
    )
    assert unknown.status_code == 204


async def test_a_number_belongs_to_one_agent(
    twilio_app: httpx.AsyncClient, agent: dict[str, Any]
) -> None:
    clash = await twilio_app.post(
        "/api/agents", json={"name": "Other", "template_id": 1, "phone_numbers": [NUMBER]}
    )
    assert clash.status_code == 409
    assert clash.json()["detail"][0]["loc"] == ["body", "phone_numbers", "0"]
    bad = await twilio_app.post(
        "/api/agents", json={"name": "Bad", "template_id": 1, "phone_numbers": ["555-1234"]}
    )
    assert bad.status_code == 422
