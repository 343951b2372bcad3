"""Typed caller turns (`text`, Callwright's own event): parsed by the codec, bounded, and taken
only from a stream whose call token says it is the web console's; a phone call's stream that
sends one has it dropped as a bad frame, and its call goes on."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from core.calls.tokens import issue_call_token, verify_call_token
from core.calls.twilio_peer import connected_message, new_sid
from realtime.twilio_protocol import (
    MAX_TEXT_CHARS,
    BadFrame,
    ProtocolError,
    Text,
    parse_message,
)
from tests.scenarios import conftest as scenarios
from tests.scenarios.conftest import PlatformFactory
from tests.scenarios.test_media_stream import bad_frames, ring, signed, start

engines = scenarios.engines
platform = scenarios.platform

SECRET = "test-call-token-secret-0123456789abcdef"


def text_event(stream_sid: str, text: object) -> str:
    return json.dumps({"event": "text", "streamSid": stream_sid, "text": text})


def test_the_codec_reads_a_typed_turn_and_bounds_it() -> None:
    assert parse_message(text_event("MZ1", "Next Tuesday, please.")) == Text(
        stream_sid="MZ1", text="Next Tuesday, please."
    )
    with pytest.raises(ProtocolError) as too_long:
        parse_message(text_event("MZ1", "x" * (MAX_TEXT_CHARS + 1)))
    assert too_long.value.kind is BadFrame.TOO_LARGE
    for bad in ("", 5, None):
        with pytest.raises(ProtocolError):
            parse_message(text_event("MZ1", bad))


def test_only_a_console_token_says_console() -> None:
    phone = verify_call_token(SECRET, issue_call_token(SECRET, call_sid="CA1", agent_id=3))
    console = verify_call_token(
        SECRET, issue_call_token(SECRET, call_sid="CA1", agent_id=3, console=True)
    )
    assert (phone.console, console.console) == (False, True)
    assert (console.call_sid, console.agent_id) == ("CA1", 3)


@pytest.mark.slow
async def test_a_phone_stream_cannot_type(platform: PlatformFactory) -> None:
    world = await platform()
    call_sid, answer = await ring(world)
    stream_sid = new_sid("MZ")
    before = bad_frames().get("unknown_event", 0.0)
    async with connect(answer.url, additional_headers=signed(world, answer)) as ws:
        await ws.send(connected_message())
        await ws.send(start(call_sid, stream_sid, answer.parameters))
        assert json.loads(await ws.recv())["event"] == "media"  # the greeting: it is live
        await ws.send(text_event(stream_sid, "Hi, my name is Jane Smith."))
        async with asyncio.timeout(10):
            while bad_frames().get("unknown_event", 0.0) < before + 1:
                await ws.recv()
        session = world.server.sessions[stream_sid]
        assert session.end_reason is None  # dropped, not fatal
        await asyncio.sleep(1.0)
        assert [t.text for t in session.transcript if t.speaker == "caller"] == []
