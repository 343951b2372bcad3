"""Twilio Media Streams from Twilio's side: what Twilio sends and how it reads our answers.

`realtime/twilio_protocol.py` is the server's codec (it parses `connected`/`start`/`media`/
`dtmf`/`stop` and builds `media`/`mark`/`clear`). This module is its mirror image for whatever
stands in for Twilio towards a realtime node: the simulated caller (`workers/caller/`) and the
web console's test call (`api/routes/console.py`). Builders for the messages Twilio sends,
shaped exactly as Twilio shapes them (numbers such as `sequenceNumber`, `chunk` and `timestamp`
as decimal strings, DTMF on the `inbound_track`), one for our own typed caller turn (`text`,
which only the console sends), and a parser for the three messages a server sends back.

Pure: no I/O. Reference: Twilio's "Media Streams - WebSocket Messages".
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from typing import Final, TypeAlias

__all__ = [
    "MAX_TEXT_CHARS",
    "ServerClear",
    "ServerMark",
    "ServerMedia",
    "ServerMessage",
    "ServerProtocolError",
    "connected_message",
    "dtmf_message",
    "inbound_media_message",
    "mark_echo_message",
    "new_sid",
    "parse_server_message",
    "start_message",
    "stop_message",
    "text_message",
]

MEDIA_ENCODING: Final = "audio/x-mulaw"
MEDIA_SAMPLE_RATE: Final = 8000
FRAME_MS: Final = 20
FRAME_BYTES: Final = MEDIA_SAMPLE_RATE * FRAME_MS // 1000
"""20 ms of μ-law: the unit of caller audio, as Twilio sends it (160 bytes)."""
# Twilio labels the caller's audio "inbound" in `start.tracks` and `media.track`, but DTMF
# arrives on "inbound_track": both spellings are what Twilio really sends.
INBOUND_TRACK: Final = "inbound"
DTMF_TRACK: Final = "inbound_track"
DTMF_KEYS: Final = frozenset("0123456789*#ABCD")
# A typed caller turn (`text`, ours): a few sentences, as long as anyone says in one turn. The
# console refuses longer ones and the realtime codec drops them.
MAX_TEXT_CHARS: Final = 1000


def new_sid(prefix: str) -> str:
    """A Twilio-shaped identifier: two letters and 32 hex digits (`CA…`, `MZ…`, `AC…`)."""
    return prefix + secrets.token_hex(16)


def _dump(message: dict[str, object]) -> str:
    return json.dumps(message, separators=(",", ":"))


def connected_message() -> str:
    """The first message on a new stream (it carries no sequence number)."""
    return _dump({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def start_message(
    *,
    sequence_number: int,
    stream_sid: str,
    call_sid: str,
    account_sid: str,
    custom_parameters: dict[str, str],
) -> str:
    """`start`: the stream's metadata, with the TwiML `<Parameter>`s as customParameters."""
    return _dump(
        {
            "event": "start",
            "sequenceNumber": str(sequence_number),
            "start": {
                "accountSid": account_sid,
                "streamSid": stream_sid,
                "callSid": call_sid,
                "tracks": [INBOUND_TRACK],
                "customParameters": custom_parameters,
                "mediaFormat": {
                    "encoding": MEDIA_ENCODING,
                    "sampleRate": MEDIA_SAMPLE_RATE,
                    "channels": 1,
                },
            },
            "streamSid": stream_sid,
        }
    )


def inbound_media_message(
    *, sequence_number: int, stream_sid: str, chunk: int, timestamp_ms: int, payload: bytes
) -> str:
    """`media`: one chunk of the caller's audio; `chunk` counts from 1, `timestamp` in ms."""
    return _dump(
        {
            "event": "media",
            "sequenceNumber": str(sequence_number),
            "media": {
                "track": INBOUND_TRACK,
                "chunk": str(chunk),
                "timestamp": str(timestamp_ms),
                "payload": base64.b64encode(payload).decode("ascii"),
            },
            "streamSid": stream_sid,
        }
    )


def dtmf_message(*, sequence_number: int, stream_sid: str, digit: str) -> str:
    """`dtmf`: the caller pressed one key."""
    if digit not in DTMF_KEYS or len(digit) != 1:
        raise ValueError(f"not a DTMF key: {digit!r}")
    return _dump(
        {
            "event": "dtmf",
            "streamSid": stream_sid,
            "sequenceNumber": str(sequence_number),
            "dtmf": {"track": DTMF_TRACK, "digit": digit},
        }
    )


def mark_echo_message(*, sequence_number: int, stream_sid: str, name: str) -> str:
    """`mark`: the audio the server sent before its mark of this name has played (or was
    cleared)."""
    return _dump(
        {
            "event": "mark",
            "sequenceNumber": str(sequence_number),
            "streamSid": stream_sid,
            "mark": {"name": name},
        }
    )


def stop_message(*, sequence_number: int, stream_sid: str, account_sid: str, call_sid: str) -> str:
    """`stop`: the caller hung up; the last message on the stream."""
    return _dump(
        {
            "event": "stop",
            "sequenceNumber": str(sequence_number),
            "streamSid": stream_sid,
            "stop": {"accountSid": account_sid, "callSid": call_sid},
        }
    )


def text_message(*, sequence_number: int, stream_sid: str, text: str) -> str:
    """`text`: a caller turn typed, not spoken (Callwright's own event, never Twilio's; a
    realtime node takes it only on a stream whose call token says it is the console's)."""
    if not text or len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"a typed turn is 1 to {MAX_TEXT_CHARS} characters")
    return _dump(
        {
            "event": "text",
            "sequenceNumber": str(sequence_number),
            "streamSid": stream_sid,
            "text": text,
        }
    )


class ServerProtocolError(ValueError):
    """A frame from the server that Twilio would not understand."""


@dataclass(frozen=True, slots=True)
class ServerMedia:
    """Agent audio to play: μ-law 8 kHz bytes, any length (Twilio buffers and plays in order)."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class ServerMark:
    """A marker in the playback queue, to be echoed once everything before it has played."""

    name: str


@dataclass(frozen=True, slots=True)
class ServerClear:
    """Drop all buffered audio now (barge-in)."""


ServerMessage: TypeAlias = ServerMedia | ServerMark | ServerClear


def parse_server_message(text: str | bytes) -> ServerMessage:
    """Parse one frame from the server; raise `ServerProtocolError` if Twilio could not use it."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise ServerProtocolError("invalid JSON") from None
    if not isinstance(data, dict):
        raise ServerProtocolError("message is not a JSON object")
    event = data.get("event")
    if not isinstance(data.get("streamSid"), str):
        raise ServerProtocolError(f"{event}: missing streamSid")
    if event == "media":
        body = data.get("media")
        payload = body.get("payload") if isinstance(body, dict) else None
        if not isinstance(payload, str):
            raise ServerProtocolError("media: missing media.payload")
        try:
            return ServerMedia(base64.b64decode(payload, validate=True))
        except (binascii.Error, ValueError):
            raise ServerProtocolError("media: bad base64 payload") from None
    if event == "mark":
        body = data.get("mark")
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise ServerProtocolError("mark: missing mark.name")
        return ServerMark(name)
    if event == "clear":
        return ServerClear()
    raise ServerProtocolError(f"unknown event {str(event)[:32]!r}")
