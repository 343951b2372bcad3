"""Twilio's side of Media Streams (`core.calls.twilio_peer`), as the simulated caller and the
console's test call speak it: every message it builds is one the realtime codec reads back as
meant, and it reads what the codec sends."""

from __future__ import annotations

import pytest

from core.calls.twilio_peer import (
    MAX_TEXT_CHARS,
    ServerClear,
    ServerMark,
    ServerMedia,
    ServerProtocolError,
    connected_message,
    dtmf_message,
    inbound_media_message,
    mark_echo_message,
    new_sid,
    parse_server_message,
    start_message,
    stop_message,
    text_message,
)
from realtime.twilio_protocol import (
    Connected,
    Dtmf,
    Mark,
    Media,
    Start,
    Stop,
    Text,
    clear_message,
    mark_message,
    media_message,
    parse_message,
)

STREAM = "MZ" + "0" * 32
CALL = "CA" + "1" * 32


def test_the_realtime_codec_reads_every_message_twilio_sends() -> None:
    assert parse_message(connected_message()) == Connected(protocol="Call", version="1.0.0")
    assert parse_message(
        start_message(
            sequence_number=1,
            stream_sid=STREAM,
            call_sid=CALL,
            account_sid="ACconsole",
            custom_parameters={"token": "t", "agent_id": "7"},
        )
    ) == Start(
        stream_sid=STREAM,
        call_sid=CALL,
        account_sid="ACconsole",
        tracks=("inbound",),
        encoding="audio/x-mulaw",
        sample_rate=8000,
        channels=1,
        custom_parameters={"token": "t", "agent_id": "7"},
        sequence_number=1,
    )
    audio = bytes(range(160))
    assert parse_message(
        inbound_media_message(
            sequence_number=2, stream_sid=STREAM, chunk=1, timestamp_ms=0, payload=audio
        )
    ) == Media(STREAM, "inbound", 1, 0, audio, sequence_number=2)
    assert parse_message(dtmf_message(sequence_number=3, stream_sid=STREAM, digit="#")) == Dtmf(
        STREAM, "#", "inbound_track", sequence_number=3
    )
    assert parse_message(
        mark_echo_message(sequence_number=4, stream_sid=STREAM, name="greeting")
    ) == Mark(STREAM, "greeting", sequence_number=4)
    assert parse_message(
        stop_message(sequence_number=5, stream_sid=STREAM, account_sid="AC1", call_sid=CALL)
    ) == Stop(STREAM, "AC1", CALL, sequence_number=5)


def test_a_typed_turn_is_built_as_the_codec_reads_it_and_bounded() -> None:
    message = text_message(sequence_number=6, stream_sid=STREAM, text="Next Tuesday, please.")
    assert parse_message(message) == Text(stream_sid=STREAM, text="Next Tuesday, please.")
    longest = "x" * MAX_TEXT_CHARS
    assert parse_message(text_message(sequence_number=7, stream_sid=STREAM, text=longest)) == Text(
        STREAM, longest
    )
    for bad in ("", "x" * (MAX_TEXT_CHARS + 1)):
        with pytest.raises(ValueError):
            text_message(sequence_number=8, stream_sid=STREAM, text=bad)


def test_what_the_server_sends_is_read_as_twilio_reads_it() -> None:
    assert parse_server_message(media_message(STREAM, b"\xff\x7f")) == ServerMedia(b"\xff\x7f")
    assert parse_server_message(mark_message(STREAM, "reply-1")) == ServerMark("reply-1")
    assert parse_server_message(clear_message(STREAM)) == ServerClear()
    for bad in (
        "not json",
        "[]",
        '{"event": "clear"}',
        f'{{"event": "hold", "streamSid": "{STREAM}"}}',
    ):
        with pytest.raises(ServerProtocolError):
            parse_server_message(bad)


def test_sids_have_twilio_s_shape() -> None:
    sid = new_sid("CA")
    assert sid.startswith("CA") and len(sid) == 34
    int(sid[2:], 16)
    assert new_sid("CA") != sid
