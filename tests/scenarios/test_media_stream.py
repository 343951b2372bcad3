"""The media WebSocket at its edges: tokens, malformed frames, other calls unaffected."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from core.calls.tokens import issue_call_token
from core.calls.twilio_peer import connected_message, new_sid, start_message
from core.twilio_signature import twilio_signature
from realtime.metrics import BAD_FRAMES_TOTAL
from tests.scenarios.conftest import Platform, PlatformFactory
from workers.caller.answer import StreamAnswer, answer_call, voice_form

SILENCE = bytes([0xFF]) * 160


async def ring(world: Platform) -> tuple[str, StreamAnswer]:
    """A signed /twilio/voice for a new call: its CallSid and the stream the TwiML connects."""
    call_sid = new_sid("CA")
    form = voice_form(
        call_sid=call_sid, account_sid=new_sid("AC"), from_number="+14155550100", to_number="+1"
    )
    async with httpx.AsyncClient() as http:
        answer = await answer_call(
            http,
            api_url=world.api_url,
            public_base_url=world.api_url,
            auth_token=world.settings.twilio_auth_token.get_secret_value(),
            form=form,
            agent_id=int(world.agent["id"]),
        )
    return call_sid, answer


def signed(world: Platform, answer: StreamAnswer) -> dict[str, str]:
    """The upgrade's `X-Twilio-Signature`, as Twilio signs the stream URL it was given."""
    token = world.settings.twilio_auth_token.get_secret_value()
    return {"X-Twilio-Signature": twilio_signature(token, answer.url, {})}


def start(call_sid: str, stream_sid: str, parameters: dict[str, str]) -> str:
    return start_message(
        sequence_number=1,
        stream_sid=stream_sid,
        call_sid=call_sid,
        account_sid="AC0",
        custom_parameters=parameters,
    )


def media(stream_sid: str, payload: str) -> str:
    return json.dumps(
        {
            "event": "media",
            "streamSid": stream_sid,
            "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": payload},
        }
    )


def bad_frames() -> dict[str, float]:
    """`callwright_bad_frames_total` by reason, as /metrics exports it."""
    return {
        sample.labels["reason"]: sample.value
        for metric in BAD_FRAMES_TOTAL.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }


async def close_code(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    return ws.close_code


async def test_a_stream_without_a_valid_token_is_refused(platform: PlatformFactory) -> None:
    world = await platform()
    call_sid, answer = await ring(world)
    forged = issue_call_token(
        "not-the-secret-at-all-0123456789abcdef", call_sid=call_sid, agent_id=1
    )
    other = issue_call_token(
        world.settings.call_token_secret.get_secret_value(), call_sid="CAother", agent_id=1
    )
    for parameters in ({}, {"token": forged}, {"token": other}, {"token": "garbage"}):
        async with connect(answer.url, additional_headers=signed(world, answer)) as ws:
            await ws.send(connected_message())
            await ws.send(start(call_sid, new_sid("MZ"), parameters))
            assert await close_code(ws) == 1008, parameters


async def test_malformed_frames_are_dropped_and_the_call_goes_on(platform: PlatformFactory) -> None:
    world = await platform()
    call_sid, answer = await ring(world)
    stream_sid = new_sid("MZ")
    before = bad_frames()
    # Meanwhile another caller books: the bad stream must not disturb it.
    neighbour = asyncio.create_task(
        world.call([{"say": "Hi, my name is Jane Smith."}], transcribe=False)
    )
    async with connect(answer.url, max_size=None, additional_headers=signed(world, answer)) as ws:
        await ws.send(connected_message())
        await ws.send(media(stream_sid, base64.b64encode(SILENCE).decode()))  # before start
        await ws.send(start(call_sid, stream_sid, answer.parameters))
        await ws.send(media(stream_sid, "not base64 !!"))
        await ws.send(json.dumps({"event": "dance", "streamSid": stream_sid}))
        await ws.send(media(stream_sid, base64.b64encode(bytes(100_000)).decode()))
        await ws.send("{not json")
        # The call goes on: the greeting arrives, and good audio is still taken.
        heard = 0
        async with asyncio.timeout(20):
            while heard < 25:
                message = json.loads(await ws.recv())
                if message["event"] == "media":
                    heard += 1
                    await ws.send(media(stream_sid, base64.b64encode(SILENCE).decode()))
        assert ws.close_code is None
    # Each of the five bad frames was counted (and logged) under its reason.
    assert sum(bad_frames().values()) - sum(before.values()) == 5
    assert bad_frames().get("before_start", 0) == before.get("before_start", 0) + 1

    report = await neighbour
    assert [t.kind for t in report.turns] == ["say"]
    assert report.turns[0].response_ms is not None, report.turns
