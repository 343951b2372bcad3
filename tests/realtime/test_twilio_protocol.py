"""The Twilio Media Streams codec: Twilio's documented frames parse; anything else is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from realtime.twilio_protocol import (
    MAX_MEDIA_PAYLOAD_BYTES,
    MAX_TEXT_FRAME_BYTES,
    Connected,
    Dtmf,
    Mark,
    Media,
    ProtocolError,
    Start,
    Stop,
    clear_message,
    mark_message,
    media_message,
    parse_message,
)

STREAM = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL = "CA0123456789abcdef0123456789abcdef"
ACCOUNT = "AC0123456789abcdef0123456789abcdef"
AUDIO = bytes(range(160))

# Frames as Twilio documents them: numbers arrive as decimal strings.
CONNECTED = {"event": "connected", "protocol": "Call", "version": "1.0.0"}
START = {
    "event": "start",
    "sequenceNumber": "1",
    "start": {
        "accountSid": ACCOUNT,
        "streamSid": STREAM,
        "callSid": CALL,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"token": "abc.def", "agent": "dental"},
    },
    "streamSid": STREAM,
}
MEDIA = {
    "event": "media",
    "sequenceNumber": "3",
    "media": {
        "track": "inbound",
        "chunk": "1",
        "timestamp": "5",
        "payload": base64.b64encode(AUDIO).decode(),
    },
    "streamSid": STREAM,
}
MARK = {"event": "mark", "sequenceNumber": "4", "streamSid": STREAM, "mark": {"name": "turn-3"}}
DTMF = {
    "event": "dtmf",
    "streamSid": STREAM,
    "sequenceNumber": "5",
    "dtmf": {"track": "inbound_track", "digit": "1"},
}
STOP = {
    "event": "stop",
    "sequenceNumber": "6",
    "streamSid": STREAM,
    "stop": {"accountSid": ACCOUNT, "callSid": CALL},
}


def frame(message: dict[str, Any], **changes: Any) -> str:
    """A JSON text frame of `message`; `changes` use `a__b` for nested keys, None deletes."""
    data = json.loads(json.dumps(message))
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = data
        for key in parents:
            target = target[key]
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return json.dumps(data)


def reason_of(text: str | bytes) -> str:
    with pytest.raises(ProtocolError) as caught:
        parse_message(text)
    return caught.value.reason


def test_connected() -> None:
    assert parse_message(frame(CONNECTED)) == Connected(protocol="Call", version="1.0.0")


def test_start_carries_call_identity_format_and_custom_parameters() -> None:
    assert parse_message(frame(START)) == Start(
        stream_sid=STREAM,
        call_sid=CALL,
        account_sid=ACCOUNT,
        tracks=("inbound",),
        encoding="audio/x-mulaw",
        sample_rate=8000,
        channels=1,
        custom_parameters={"token": "abc.def", "agent": "dental"},
        sequence_number=1,
    )


def test_start_without_custom_parameters_has_none() -> None:
    message = parse_message(frame(START, start__customParameters=None))
    assert isinstance(message, Start)
    assert message.custom_parameters == {}


def test_media_payload_is_decoded_mulaw() -> None:
    assert parse_message(frame(MEDIA)) == Media(
        stream_sid=STREAM,
        track="inbound",
        chunk=1,
        timestamp_ms=5,
        payload=AUDIO,
        sequence_number=3,
    )


def test_media_accepts_json_integers_and_bytes_frames() -> None:
    text = frame(MEDIA, media__chunk=7, media__timestamp=140, sequenceNumber=9)
    message = parse_message(text.encode())
    assert isinstance(message, Media)
    assert (message.chunk, message.timestamp_ms, message.sequence_number) == (7, 140, 9)


def test_media_without_sequence_number_is_still_audio() -> None:
    message = parse_message(frame(MEDIA, sequenceNumber=None))
    assert isinstance(message, Media)
    assert message.sequence_number is None


def test_mark_dtmf_stop() -> None:
    assert parse_message(frame(MARK)) == Mark(stream_sid=STREAM, name="turn-3", sequence_number=4)
    assert parse_message(frame(DTMF)) == Dtmf(
        stream_sid=STREAM, digit="1", track="inbound_track", sequence_number=5
    )
    assert parse_message(frame(STOP)) == Stop(
        stream_sid=STREAM, account_sid=ACCOUNT, call_sid=CALL, sequence_number=6
    )


def test_stop_is_never_refused_over_its_bookkeeping_fields() -> None:
    assert parse_message(frame(STOP, stop=None)) == Stop(stream_sid=STREAM, sequence_number=6)
    message = parse_message(frame(STOP, stop__reason="caller hung up"))
    assert isinstance(message, Stop)
    assert message.reason == "caller hung up"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "message is not a JSON object"),
        ('"media"', "message is not a JSON object"),
        ("{}", "missing or non-string 'event'"),
        ('{"event": 3}', "missing or non-string 'event'"),
        ('{"event": "hangup"}', "unknown event 'hangup'"),
        (frame(START, start=None), "start: expected an object"),
        (frame(START, start__callSid=None), "start.callSid: expected a string"),
        (frame(START, start__streamSid=""), "start.streamSid: empty"),
        (frame(START, start__tracks="inbound"), "start.tracks: expected a list of strings"),
        (
            frame(START, start__customParameters={"token": 5}),
            "start.customParameters: expected an object of strings",
        ),
        (frame(START, start__mediaFormat=None), "start.mediaFormat: expected an object"),
        (
            frame(START, start__mediaFormat__encoding="audio/x-l16"),
            "unsupported media format 'audio/x-l16'/8000/1",
        ),
        (
            frame(START, start__mediaFormat__sampleRate=16000),
            "unsupported media format 'audio/x-mulaw'/16000/1",
        ),
        (
            frame(START, start__mediaFormat__sampleRate="fast"),
            "start.mediaFormat.sampleRate: expected a non-negative integer",
        ),
        (frame(MEDIA, streamSid=None), "streamSid: expected a string"),
        (frame(MEDIA, media__payload="!!!not base64!!!"), "media.payload: bad base64"),
        (frame(MEDIA, media__payload="QUI"), "media.payload: bad base64"),
        (frame(MEDIA, media__payload=17), "media.payload: expected a string"),
        (frame(MEDIA, media__chunk="-1"), "media.chunk: expected a non-negative integer"),
        (frame(MEDIA, media__chunk=True), "media.chunk: expected a non-negative integer"),
        (frame(MEDIA, media__timestamp=1.5), "media.timestamp: expected a non-negative integer"),
        (frame(MEDIA, media__timestamp="٣"), "media.timestamp: expected a non-negative integer"),
        (frame(MEDIA, sequenceNumber="x"), "sequenceNumber: expected a non-negative integer"),
        (frame(MEDIA, media__track=None), "media.track: expected a string"),
        (frame(MARK, mark__name=None), "mark.name: expected a string"),
        (frame(DTMF, dtmf__digit="12"), "dtmf.digit: not a DTMF key"),
        (frame(DTMF, dtmf__digit="x"), "dtmf.digit: not a DTMF key"),
        (frame(STOP, stop__callSid=42), "stop.callSid: expected a string"),
        (b"\xff\xfe{}", "frame is not UTF-8"),
    ],
)
def test_malformed_frames_raise_protocol_error(text: str | bytes, reason: str) -> None:
    assert reason_of(text) == reason


def test_error_names_the_event_and_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^media: media.payload: bad base64$") as caught:
        parse_message(frame(MEDIA, media__payload="%%%"))
    assert isinstance(caught.value, ProtocolError)
    assert caught.value.event == "media"


def test_unknown_event_reason_is_bounded() -> None:
    assert reason_of(json.dumps({"event": "x" * 10_000})) == f"unknown event {'x' * 32!r}"


def test_oversize_media_payload_is_refused_before_decoding() -> None:
    just_fits = base64.b64encode(bytes(MAX_MEDIA_PAYLOAD_BYTES)).decode()
    message = parse_message(frame(MEDIA, media__payload=just_fits))
    assert isinstance(message, Media)
    assert len(message.payload) == MAX_MEDIA_PAYLOAD_BYTES

    too_big = base64.b64encode(bytes(MAX_MEDIA_PAYLOAD_BYTES + 3)).decode()
    assert reason_of(frame(MEDIA, media__payload=too_big)) == (
        f"media.payload larger than {MAX_MEDIA_PAYLOAD_BYTES} bytes"
    )


def test_oversize_frame_is_refused_before_parsing() -> None:
    huge = frame(CONNECTED, padding="x" * MAX_TEXT_FRAME_BYTES)
    assert reason_of(huge) == f"frame larger than {MAX_TEXT_FRAME_BYTES} bytes"
    assert reason_of(huge.encode()) == f"frame larger than {MAX_TEXT_FRAME_BYTES} bytes"


def test_deeply_nested_json_is_a_protocol_error_not_a_crash() -> None:
    assert reason_of("[" * 100_000 + "]" * 100_000) in {
        "invalid JSON",
        f"frame larger than {MAX_TEXT_FRAME_BYTES} bytes",
    }
    assert reason_of('{"event": "start", "start": ' + "[" * 5_000 + "]" * 5_000 + "}") in {
        "invalid JSON",
        "start: expected an object",
    }


def test_media_message_matches_twilios_shape_and_round_trips() -> None:
    text = media_message(STREAM, AUDIO)
    assert json.loads(text) == {
        "event": "media",
        "streamSid": STREAM,
        "media": {"payload": base64.b64encode(AUDIO).decode()},
    }
    assert base64.b64decode(json.loads(text)["media"]["payload"]) == AUDIO


def test_mark_and_clear_messages_match_twilios_shape() -> None:
    assert json.loads(mark_message(STREAM, "turn-3")) == {
        "event": "mark",
        "streamSid": STREAM,
        "mark": {"name": "turn-3"},
    }
    assert json.loads(clear_message(STREAM)) == {"event": "clear", "streamSid": STREAM}


def test_a_mark_we_send_parses_as_the_mark_twilio_echoes() -> None:
    # Twilio echoes our mark back with the same shape (plus a sequence number).
    assert parse_message(mark_message(STREAM, "turn-3")) == Mark(stream_sid=STREAM, name="turn-3")
