"""Twilio's webhooks, signed exactly as Twilio signs them, against the real Temporal server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx
import pytest
import redis.asyncio as aioredis
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from twilio.request_validator import RequestValidator

from core.calls.nodes import NodeRegistry, mark_call_over
from core.calls.temporal import connect_temporal
from core.calls.tokens import verify_call_token
from core.calls.types import CallEnded
from core.settings import Settings
from tests.conftest import EXAMPLES_DIR, PAYLOAD_KEYS, app_client, forget_nodes
from tests.workflows.calls import running_worker
from workers.services import EmbeddedTemporal

BASE = "https://voice.example.test"
MEDIA = "wss://media.example.test/twilio/media"
NUMBER = "+14155550111"


@pytest.fixture
def twilio_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"public_base_url": BASE, "temporal_task_queue": f"calls-{uuid.uuid4().hex[:8]}"}
    )


@pytest.fixture
async def redis(twilio_settings: Settings) -> AsyncIterator[aioredis.Redis]:
    """The registry's Redis, emptied of other tests' nodes."""
    await forget_nodes(twilio_settings.redis_url)
    client = aioredis.Redis.from_url(twilio_settings.redis_url or "")
    yield client
    await client.aclose()


async def add_node(redis: aioredis.Redis, node_id: str, capacity: int = 10) -> NodeRegistry:
    """A realtime node in the registry (no process behind it: these tests read the TwiML)."""
    registry = NodeRegistry(
        redis, node_id=node_id, media_url=f"{MEDIA}?node={node_id}", capacity=capacity, ttl_s=60
    )
    await registry.heartbeat()
    return registry


@pytest.fixture
async def twilio_app(
    twilio_settings: Settings, engine: Any, api_key: str, redis: aioredis.Redis
) -> AsyncIterator[httpx.AsyncClient]:
    await add_node(redis, "node-a")
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
    return await connect_temporal(temporal_server.address, "default", PAYLOAD_KEYS)


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
    assert stream.get("url") == f"{MEDIA}?node=node-a"  # the registered node with room
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
    assert signals == ["call_ended"]  # the realtime node never sent anything: no stream
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


def verbs(twiml: str) -> list[str]:
    return [element.tag for element in ElementTree.fromstring(twiml)]


async def test_the_stream_is_followed_by_a_redirect_that_resumes_a_live_call_elsewhere(
    twilio_app: httpx.AsyncClient,
    twilio_settings: Settings,
    agent: dict[str, Any],
    redis: aioredis.Redis,
) -> None:
    call_sid = "CA" + uuid.uuid4().hex
    answer = await post(twilio_app, twilio_settings, "/twilio/voice", call_form(call_sid))
    assert verbs(answer.text) == ["Connect", "Redirect"]
    redirect = ElementTree.fromstring(answer.text).find("./Redirect")
    assert redirect is not None and redirect.get("method") == "POST"
    url = (redirect.text or "").removeprefix(BASE)
    assert url.startswith("/twilio/continue?") and "node=node-a" in url

    # node-a crashed; Twilio runs the Redirect. The call is live: a new stream on node-b.
    await add_node(redis, "node-b")
    form = {**call_form(call_sid), "CallStatus": "in-progress"}
    resumed = await post(twilio_app, twilio_settings, url, form)
    assert resumed.status_code == 200 and verbs(resumed.text) == ["Connect", "Redirect"]
    stream = ElementTree.fromstring(resumed.text).find("./Connect/Stream")
    assert stream is not None and stream.get("url") == f"{MEDIA}?node=node-b"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params["resume"] == "1"
    claims = verify_call_token(
        twilio_settings.call_token_secret.get_secret_value(), params["token"] or ""
    )
    assert claims.call_sid == call_sid
    unsigned = await twilio_app.post(url, data=form)
    assert unsigned.status_code == 403


async def test_continue_hangs_up_a_call_that_is_over(
    twilio_app: httpx.AsyncClient,
    twilio_settings: Settings,
    agent: dict[str, Any],
    temporal: Client,
    engine: Any,
) -> None:
    call_sid = "CA" + uuid.uuid4().hex
    await post(twilio_app, twilio_settings, "/twilio/voice", call_form(call_sid))
    handle = temporal.get_workflow_handle(f"call-{call_sid}")
    url = f"/twilio/continue?agent={agent['id']}&node=node-a&attempt=1"
    async with running_worker(temporal, twilio_settings, engine):
        # The agent said goodbye: its realtime node ended the call before closing the stream.
        await handle.signal("call_ended", CallEnded(reason="completed"))
        answer = await post(twilio_app, twilio_settings, url, call_form(call_sid))
    assert verbs(answer.text) == ["Hangup"]
    never = await post(twilio_app, twilio_settings, url, call_form("CAnever"))
    assert verbs(never.text) == ["Hangup"]


async def test_a_replayed_voice_webhook_for_a_finished_call_hangs_up_and_changes_nothing(
    twilio_app: httpx.AsyncClient,
    twilio_settings: Settings,
    agent: dict[str, Any],
    temporal: Client,
) -> None:
    call_sid = "CA" + uuid.uuid4().hex
    await post(twilio_app, twilio_settings, "/twilio/voice", call_form(call_sid))
    handle = temporal.get_workflow_handle(f"call-{call_sid}")
    await handle.signal("call_ended", CallEnded(reason="caller_hung_up"))
    first_run = (await handle.describe()).run_id
    async with asyncio.timeout(60):  # no worker runs in these tests: terminate stands in for it
        await handle.terminate("finished for the test")
    replayed = await post(twilio_app, twilio_settings, "/twilio/voice", call_form(call_sid))
    assert verbs(replayed.text) == ["Hangup"]
    runs = [w async for w in temporal.list_workflows(f"WorkflowId = 'call-{call_sid}'")]
    assert [w.run_id for w in runs] == [first_run]


async def test_with_every_node_full_the_caller_hears_busy_and_the_call_is_closed(
    twilio_app: httpx.AsyncClient,
    twilio_settings: Settings,
    agent: dict[str, Any],
    redis: aioredis.Redis,
    temporal: Client,
) -> None:
    await redis.delete("callwright:nodes", "callwright:node:node-a")
    await add_node(redis, "tiny", capacity=1)
    first, second = "CA" + uuid.uuid4().hex, "CA" + uuid.uuid4().hex
    answers = await asyncio.gather(
        post(twilio_app, twilio_settings, "/twilio/voice", call_form(first)),
        post(twilio_app, twilio_settings, "/twilio/voice", call_form(second)),
    )
    shapes = sorted(verbs(a.text) for a in answers)
    assert shapes == [["Connect", "Redirect"], ["Say", "Hangup"]]
    busy = next(a for a in answers if verbs(a.text)[0] == "Say")
    assert "busy" in busy.text
    refused = first if busy is answers[0] else second
    history = await temporal.get_workflow_handle(f"call-{refused}").fetch_history()
    ended = [
        e.workflow_execution_signaled_event_attributes.input.payloads[0]
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert len(ended) == 1
    # History payloads are sealed (core/codec.py): the client's converter opens them.
    [signal] = await temporal.data_converter.decode(ended, [CallEnded])
    assert signal.reason == "no_capacity"


async def test_a_call_its_node_ended_is_hung_up_even_with_no_worker_answering(
    twilio_app: httpx.AsyncClient,
    twilio_settings: Settings,
    agent: dict[str, Any],
    redis: aioredis.Redis,
) -> None:
    call_sid = "CA" + uuid.uuid4().hex
    await post(twilio_app, twilio_settings, "/twilio/voice", call_form(call_sid))
    url = f"/twilio/continue?agent={agent['id']}&node=node-a&attempt=1"
    await add_node(redis, "node-b")
    # No worker runs here: the workflow cannot answer, so the call would be taken as live...
    live = await post(twilio_app, twilio_settings, url, call_form(call_sid))
    assert verbs(live.text) == ["Connect", "Redirect"]
    # ...unless the node that said goodbye marked it over before closing its stream.
    await mark_call_over(redis, call_sid, "completed")
    over = await post(twilio_app, twilio_settings, url, call_form(call_sid))
    assert verbs(over.text) == ["Hangup"]
