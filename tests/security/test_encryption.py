"""Encrypted call history: Temporal's store holds no caller words or phone numbers, the codec
endpoint opens them for admins only, and logs at INFO carry neither."""

from __future__ import annotations

import base64
import logging
import uuid
from typing import Any

import httpx
import pytest
from google.protobuf.json_format import MessageToDict
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from twilio.request_validator import RequestValidator

from core.auth import Scope, create_api_key
from core.calls.types import CallEnded, CallInput, FieldEvent, Speaker, TurnEvent
from core.codec import (
    ENCODING,
    EncryptionCodec,
    PayloadDecryptionError,
    PayloadKeys,
)
from core.db.models import Call, WebhookDelivery
from core.db.session import make_sessionmaker
from core.settings import DEV_PAYLOAD_ENCRYPTION_KEYS, Settings
from tests.conftest import app_client
from tests.webhook_receiver import Receiver
from tests.workflows.calls import BOOKING, say, start
from workers.services import EmbeddedTemporal
from workflows.call import CallWorkflow
from workflows.webhook import webhook_workflow_id

CALLER = "+14155550100"  # make_call's numbers
CALLEE = "+14155550199"
WORDS = "my name is Zebediah Quillfeather"
SECRETS = [b"Zebediah", b"Quillfeather", b"4155550100", b"4155550199"]
UI_ORIGIN = "https://temporal-ui.example.test"


def key(n: int) -> str:
    return base64.b64encode(bytes([n]) * 32).decode()


def json_payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_a_payload_sealed_with_a_rotated_out_key_still_opens() -> None:
    old = EncryptionCodec(PayloadKeys.parse(f"k1:{key(1)}"))
    rotated = EncryptionCodec(PayloadKeys.parse(f"k2:{key(2)}, k1:{key(1)}"))
    [sealed_old] = await old.encode([json_payload(CALLER)])
    [sealed_new] = await rotated.encode([json_payload(CALLER)])

    assert sealed_new.metadata["encoding"] == ENCODING
    assert sealed_new.metadata["encryption-key-id"] == b"k2"
    assert b"4155550100" not in sealed_new.SerializeToString()
    assert await rotated.decode([sealed_old, sealed_new]) == [json_payload(CALLER)] * 2
    # Not sealed by us (written before encryption was on): passed through.
    assert await rotated.decode([json_payload("plain")]) == [json_payload("plain")]

    with pytest.raises(PayloadDecryptionError, match="k2"):
        await old.decode([sealed_new])
    tampered = Payload()
    tampered.CopyFrom(sealed_new)
    tampered.data = sealed_new.data[:-1] + bytes([sealed_new.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError, match="authentication"):
        await rotated.decode([tampered])


@pytest.mark.parametrize(
    "keys",
    ["", "nokey", f"k1:{base64.b64encode(b'short').decode()}", f"k1:{key(1)},k1:{key(2)}"],
)
def test_malformed_payload_keys_are_refused(keys: str) -> None:
    with pytest.raises(ValidationError, match="PAYLOAD_ENCRYPTION_KEYS"):
        Settings.model_validate({"CALLWRIGHT_ENV": "development", "PAYLOAD_ENCRYPTION_KEYS": keys})


def test_production_refuses_the_development_key_even_as_an_old_one(settings: Settings) -> None:
    values = {
        "CALLWRIGHT_ENV": "production",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token.get_secret_value(),
        "WEBHOOK_SIGNING_SECRET": settings.webhook_signing_secret.get_secret_value(),
        "CALL_TOKEN_SECRET": settings.call_token_secret.get_secret_value(),
    }
    unset = Settings.model_validate(values)  # unset: no key at all, never the public one
    with pytest.raises(ValueError, match="PAYLOAD_ENCRYPTION_KEYS not set"):
        unset.require_secrets("worker")
    for keys in (DEV_PAYLOAD_ENCRYPTION_KEYS, f"k2:{key(7)},{DEV_PAYLOAD_ENCRYPTION_KEYS}"):
        with pytest.raises(ValidationError, match="PAYLOAD_ENCRYPTION_KEYS"):
            Settings.model_validate({**values, "PAYLOAD_ENCRYPTION_KEYS": keys})
    assert Settings.model_validate({**values, "PAYLOAD_ENCRYPTION_KEYS": f"k2:{key(7)}"})


async def _run_call(client: Client, call: CallInput, task_queue: str) -> str:
    handle = await start(client, call, task_queue)
    await say(handle, 1, Speaker.AGENT, "Thanks for calling, how can I help?")
    await say(handle, 2, Speaker.CALLER, f"{WORDS}, I'd like a cleaning on December 2nd at 3:30")
    for name, value in {**BOOKING, "customer_name": "Zebediah Quillfeather"}.items():
        await handle.signal(CallWorkflow.field_captured, FieldEvent(name=name, value=value))
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="caller_hung_up"))
    await handle.result()
    return handle.id


async def test_temporal_history_read_back_raw_holds_no_caller_words(
    temporal_server: EmbeddedTemporal,
    temporal_client: Client,
    worker: Any,
    make_call: Any,
    receiver: Receiver,
    task_queue: str,
    engine: AsyncEngine,
    call_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    call = await make_call()
    workflow_id = await _run_call(temporal_client, call, task_queue)
    await receiver.wait_for("/call")
    async with make_sessionmaker(engine)() as session:
        call_id = await session.scalar(select(Call.id).where(Call.call_sid == call.call_sid))
        webhook_ids = (
            await session.scalars(
                select(WebhookDelivery.webhook_id).where(WebhookDelivery.call_id == call_id)
            )
        ).all()
    assert len(webhook_ids) == 2  # goal.completed and call.completed, their payloads quote it
    workflow_ids = [workflow_id, *(webhook_workflow_id(w) for w in webhook_ids)]
    for child in workflow_ids[1:]:
        await temporal_client.get_workflow_handle(child).result()

    # Read back as anyone with access to Temporal (its database, UI, CLI) would: no codec.
    raw = await Client.connect(temporal_server.address)
    stored = b""
    for wid in workflow_ids:
        handle = raw.get_workflow_handle(wid)
        history = await handle.fetch_history()
        stored += b"".join(event.SerializeToString() for event in history.events)
        stored += (await handle.describe()).raw_description.SerializeToString()
    async for listed in raw.list_workflows(f"WorkflowId = '{workflow_id}'"):
        stored += listed.raw_info.SerializeToString()
    assert ENCODING in stored
    for secret in SECRETS:
        assert secret not in stored, f"{secret!r} is in Temporal's store in the clear"

    # With the codec, the same history opens: the memo, the started input, the caller's turn.
    handle = temporal_client.get_workflow_handle(workflow_id)
    assert (await (await handle.describe()).memo())["caller"] == CALLER
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads
    [opened] = await temporal_client.data_converter.decode(started, [CallInput])
    assert opened.from_number == CALLER and opened.to_number == CALLEE
    signalled = [
        e.workflow_execution_signaled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    turn_payloads = [s.input.payloads[0] for s in signalled if s.signal_name == "turn_completed"]
    turns = [
        (await temporal_client.data_converter.decode([p], [TurnEvent]))[0] for p in turn_payloads
    ]
    assert any(WORDS in t.text for t in turns)

    # And through the API's codec endpoint, as the Temporal UI asks it, with an admin key.
    async with make_sessionmaker(engine)() as session:
        admin = await create_api_key(session, name="codec-admin")
    async with app_client(call_settings, engine, admin) as api:
        answer = await api.post(
            "/codec/decode", json={"payloads": [MessageToDict(p) for p in started]}
        )
    assert answer.status_code == 200, answer.text
    decoded = base64.b64decode(answer.json()["payloads"][0]["data"])
    assert CALLER.encode() in decoded

    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    for secret in SECRETS:
        assert secret.decode() not in logged


@pytest.fixture
async def codec_api(
    settings: Settings, engine: AsyncEngine
) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """The API with a Temporal UI origin allowed, and keys by scope (none, read, admin)."""
    async with make_sessionmaker(engine)() as session:
        keys = {
            "read": await create_api_key(session, name="reader", scopes=(Scope.READ,)),
            "admin": await create_api_key(session, name="admin"),
        }
    updated = settings.model_copy(update={"codec_cors_origins": f"{UI_ORIGIN}, http://x.test"})
    async with app_client(updated, engine) as client:
        yield client, keys  # type: ignore[misc]


async def test_the_codec_endpoint_opens_payloads_for_admin_keys_only(
    codec_api: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    api, keys = codec_api
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    plain = {"payloads": [MessageToDict(json_payload(CALLER))]}

    sealed = await api.post("/codec/encode", json=plain, headers=admin)
    assert sealed.status_code == 200, sealed.text
    [payload] = sealed.json()["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == ENCODING
    assert b"4155550100" not in base64.b64decode(payload["data"])

    for path in ("/codec/decode", "/codec/encode"):
        assert (await api.post(path, json=sealed.json())).status_code == 401
        reader = {"Authorization": f"Bearer {keys['read']}"}
        assert (await api.post(path, json=sealed.json(), headers=reader)).status_code == 403
    opened = await api.post("/codec/decode", json=sealed.json(), headers=admin)
    assert opened.status_code == 200
    assert opened.json() == plain

    foreign = await EncryptionCodec(PayloadKeys.parse(f"other:{key(9)}")).encode(
        [json_payload(CALLER)]
    )
    refused = await api.post(
        "/codec/decode", json={"payloads": [MessageToDict(foreign[0])]}, headers=admin
    )
    assert refused.status_code == 422 and "other" in refused.text
    junk = await api.post("/codec/decode", json={"payloads": [{"data": 5}]}, headers=admin)
    assert junk.status_code == 422


async def test_only_the_temporal_ui_origin_may_call_the_codec_from_a_browser(
    codec_api: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    api, _ = codec_api
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    allowed = await api.options("/codec/decode", headers={"Origin": UI_ORIGIN, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
    other = await api.options(
        "/codec/decode", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in other.headers
    # The UI's origin gets nothing elsewhere in the API.
    elsewhere = await api.get("/api/calls", headers={"Origin": UI_ORIGIN})
    assert "access-control-allow-origin" not in elsewhere.headers


async def test_logs_at_info_carry_no_phone_number_of_an_unknown_call(
    settings: Settings, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    base = "https://voice.example.test"
    twilio_settings = settings.model_copy(update={"public_base_url": base})
    number = "+14155550177"
    form = {"CallSid": f"CA{uuid.uuid4().hex}", "From": CALLER, "To": number}
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    headers = {"X-Twilio-Signature": validator.compute_signature(f"{base}/twilio/voice", form)}
    caplog.set_level(logging.INFO)
    async with app_client(twilio_settings, engine) as api:
        answer = await api.post("/twilio/voice", data=form, headers=headers)
    assert answer.status_code == 200 and "not in service" in answer.text
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "no agent answers" in logged  # the event is still logged, without the number
    assert "4155550177" not in logged and "4155550100" not in logged
