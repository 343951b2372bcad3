"""The Twilio Media Streams wire codec: every message shape lives here and nowhere else.

Inbound text frames (`connected`, `start`, `media`, `mark`, `dtmf`, `stop`) become frozen
dataclasses through `parse_message`; outbound messages (`media`, `mark`, `clear`) are built as
JSON strings by `media_message`, `mark_message` and `clear_message`.

Pure: no I/O, no logging, no side effects. A frame that cannot be understood raises
`ProtocolError`, whose `reason` is short enough for a log line; what to do about it (log, drop,
carry on with the call) is the session's decision, never the codec's.

Twilio sends numbers such as `sequenceNumber`, `chunk` and `timestamp` as decimal strings; both
strings and JSON integers are accepted. Reference: Twilio's "Media Streams - WebSocket
Messages".

One inbound event is ours, not Twilio's: `text` (`{"event": "text", "streamSid": …, "text": …}`),
a caller turn typed in the web console's test call, which stands in for Twilio there. The codec
parses it like any other; whether a stream may send it (only one whose call token says it comes
from the console) is the server's decision. Its length limit, and the builders of every message
Twilio sends, live with Twilio's side of the protocol in `core.calls.twilio_peer`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeAlias

from core.calls.twilio_peer import MAX_TEXT_CHARS

__all__ = [
    "EXPECTED_ENCODING",
    "EXPECTED_SAMPLE_RATE",
    "MAX_MEDIA_PAYLOAD_BYTES",
    "MAX_TEXT_CHARS",
    "MAX_TEXT_FRAME_BYTES",
    "Connected",
    "Dtmf",
    "BadFrame",
    "InboundMessage",
    "Mark",
    "Media",
    "ProtocolError",
    "Start",
    "Stop",
    "Text",
    "clear_message",
    "mark_message",
    "media_message",
    "parse_message",
]

# Twilio sends 20 ms (160 bytes) per media frame; 8 KiB is half a second of μ-law, far above
# anything legitimate and low enough that one bad peer cannot make us decode megabytes.
MAX_MEDIA_PAYLOAD_BYTES: Final = 8 * 1024
# Base64 of the largest payload plus the JSON around it, or a `start` with generous custom
# parameters. Checked before JSON parsing so a huge frame costs nothing to refuse (in bytes for
# a binary frame, in characters for a text frame that has already been decoded).
MAX_TEXT_FRAME_BYTES: Final = 64 * 1024
# The media format the whole audio path is built for (see realtime/audio.py).
EXPECTED_ENCODING: Final = "audio/x-mulaw"
EXPECTED_SAMPLE_RATE: Final = 8000
EXPECTED_CHANNELS: Final = 1

# Base64 length of MAX_MEDIA_PAYLOAD_BYTES, to refuse oversize payloads before decoding them.
_MAX_MEDIA_BASE64_CHARS: Final = 4 * ((MAX_MEDIA_PAYLOAD_BYTES + 2) // 3)


class BadFrame(StrEnum):
    """Why an inbound frame was dropped: a fixed set, so it can label a metric. Whatever a peer
    sends (an invented event name, say) maps to one of these, never to a label of its own."""

    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    BAD_JSON = "bad_json"
    NO_EVENT = "no_event"
    UNKNOWN_EVENT = "unknown_event"
    BAD_FIELDS = "bad_fields"
    BAD_PAYLOAD = "bad_payload"
    BAD_FORMAT = "bad_format"
    BEFORE_START = "before_start"
    DUPLICATE_START = "duplicate_start"
    TOO_FAST = "too_fast"


class ProtocolError(ValueError):
    """A frame that is not a well-formed Twilio Media Streams message.

    `kind` says why in the fixed vocabulary of `BadFrame` (for metrics); `reason` is a short
    description for the log line ("invalid JSON", "unknown event 'foo'", "media.payload: bad
    base64", ...); `event` is the message's event name when it is one of the protocol's, else
    None. Nothing from the frame's body beyond a bounded event name and field names is echoed,
    so a log line cannot carry audio or a caller's custom parameters.
    """

    def __init__(
        self, reason: str, event: str | None = None, kind: BadFrame = BadFrame.BAD_FIELDS
    ) -> None:
        super().__init__(reason if event is None else f"{event}: {reason}")
        self.reason = reason
        self.event = event
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Connected:
    """First message on a new socket: the protocol Twilio will speak."""

    protocol: str
    version: str


@dataclass(frozen=True, slots=True)
class Start:
    """Stream metadata, sent once after `connected`; carries our `<Parameter>`s."""

    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    encoding: str
    sample_rate: int
    channels: int
    custom_parameters: dict[str, str]
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True)
class Media:
    """One chunk of caller (or outbound) audio: μ-law bytes, already base64-decoded."""

    stream_sid: str
    track: str
    chunk: int
    timestamp_ms: int
    payload: bytes
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True)
class Mark:
    """Twilio has played all audio sent before the `mark` of this name (or it was cleared)."""

    stream_sid: str
    name: str
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True)
class Dtmf:
    """The caller pressed a key."""

    stream_sid: str
    digit: str
    track: str
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    """The stream ended (the caller hung up, or the call left the `<Connect><Stream>`).

    `account_sid` and `call_sid` are None when absent: the session knows them from `start`, and
    a stop must not be refused over bookkeeping fields.
    """

    stream_sid: str
    account_sid: str | None = None
    call_sid: str | None = None
    reason: str | None = None
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True)
class Text:
    """A caller turn typed, not spoken: Callwright's own event, sent by the web console's test
    calls (never by Twilio); at most MAX_TEXT_CHARS characters."""

    stream_sid: str
    text: str


InboundMessage: TypeAlias = Connected | Start | Media | Mark | Dtmf | Stop | Text

_Json: TypeAlias = dict[str, object]


def parse_message(text: str | bytes) -> InboundMessage:
    """Parse one inbound WebSocket frame into its message; raise `ProtocolError` if malformed."""
    if len(text) > MAX_TEXT_FRAME_BYTES:
        raise ProtocolError(
            f"frame larger than {MAX_TEXT_FRAME_BYTES} bytes", kind=BadFrame.TOO_LARGE
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("frame is not UTF-8", kind=BadFrame.NOT_UTF8) from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ProtocolError("invalid JSON", kind=BadFrame.BAD_JSON) from None
    if not isinstance(data, dict):
        raise ProtocolError("message is not a JSON object", kind=BadFrame.BAD_JSON)
    event = data.get("event")
    if not isinstance(event, str):
        raise ProtocolError("missing or non-string 'event'", kind=BadFrame.NO_EVENT)
    parser = _PARSERS.get(event)
    if parser is None:
        # repr() of a truncated name: bounded and quoted, whatever the peer sent.
        raise ProtocolError(f"unknown event {event[:32]!r}", kind=BadFrame.UNKNOWN_EVENT)
    return parser(data, event)


def _parse_connected(data: _Json, event: str) -> Connected:
    return Connected(
        protocol=_str(data, "protocol", event, "protocol"),
        version=_str(data, "version", event, "version"),
    )


def _parse_start(data: _Json, event: str) -> Start:
    body = _object(data, "start", event, "start")
    media_format = _object(body, "mediaFormat", event, "start.mediaFormat")
    encoding = _str(media_format, "encoding", event, "start.mediaFormat.encoding")
    sample_rate = _int(media_format, "sampleRate", event, "start.mediaFormat.sampleRate")
    channels = _int(media_format, "channels", event, "start.mediaFormat.channels")
    if (encoding, sample_rate, channels) != (
        EXPECTED_ENCODING,
        EXPECTED_SAMPLE_RATE,
        EXPECTED_CHANNELS,
    ):
        raise ProtocolError(
            f"unsupported media format {encoding[:32]!r}/{sample_rate}/{channels}",
            event,
            BadFrame.BAD_FORMAT,
        )
    tracks = body.get("tracks")
    if not isinstance(tracks, list) or not all(isinstance(t, str) for t in tracks):
        raise ProtocolError("start.tracks: expected a list of strings", event)
    raw_parameters = body.get("customParameters", {})
    if not isinstance(raw_parameters, dict) or not all(
        isinstance(value, str) for value in raw_parameters.values()
    ):
        raise ProtocolError("start.customParameters: expected an object of strings", event)
    return Start(
        stream_sid=_str(body, "streamSid", event, "start.streamSid"),
        call_sid=_str(body, "callSid", event, "start.callSid"),
        account_sid=_str(body, "accountSid", event, "start.accountSid"),
        tracks=tuple(tracks),
        encoding=encoding,
        sample_rate=sample_rate,
        channels=channels,
        custom_parameters=dict(raw_parameters),
        sequence_number=_sequence_number(data, event),
    )


def _parse_media(data: _Json, event: str) -> Media:
    body = _object(data, "media", event, "media")
    encoded = _str(body, "payload", event, "media.payload", allow_empty=True)
    if len(encoded) > _MAX_MEDIA_BASE64_CHARS:
        raise ProtocolError(
            f"media.payload larger than {MAX_MEDIA_PAYLOAD_BYTES} bytes", event, BadFrame.TOO_LARGE
        )
    try:
        payload = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("media.payload: bad base64", event, BadFrame.BAD_PAYLOAD) from None
    return Media(
        stream_sid=_str(data, "streamSid", event, "streamSid"),
        track=_str(body, "track", event, "media.track"),
        chunk=_int(body, "chunk", event, "media.chunk"),
        timestamp_ms=_int(body, "timestamp", event, "media.timestamp"),
        payload=payload,
        sequence_number=_sequence_number(data, event),
    )


def _parse_mark(data: _Json, event: str) -> Mark:
    body = _object(data, "mark", event, "mark")
    return Mark(
        stream_sid=_str(data, "streamSid", event, "streamSid"),
        name=_str(body, "name", event, "mark.name"),
        sequence_number=_sequence_number(data, event),
    )


def _parse_dtmf(data: _Json, event: str) -> Dtmf:
    body = _object(data, "dtmf", event, "dtmf")
    digit = _str(body, "digit", event, "dtmf.digit")
    if len(digit) != 1 or digit not in "0123456789*#ABCD":
        raise ProtocolError("dtmf.digit: not a DTMF key", event)
    return Dtmf(
        stream_sid=_str(data, "streamSid", event, "streamSid"),
        digit=digit,
        track=_str(body, "track", event, "dtmf.track"),
        sequence_number=_sequence_number(data, event),
    )


def _parse_stop(data: _Json, event: str) -> Stop:
    body = _object(data, "stop", event, "stop") if "stop" in data else {}
    return Stop(
        stream_sid=_str(data, "streamSid", event, "streamSid"),
        account_sid=_optional_str(body, "accountSid", event, "stop.accountSid"),
        call_sid=_optional_str(body, "callSid", event, "stop.callSid"),
        reason=_optional_str(body, "reason", event, "stop.reason"),
        sequence_number=_sequence_number(data, event),
    )


def _parse_text(data: _Json, event: str) -> Text:
    text = _str(data, "text", event, "text")
    if len(text) > MAX_TEXT_CHARS:
        raise ProtocolError(
            f"text longer than {MAX_TEXT_CHARS} characters", event, BadFrame.TOO_LARGE
        )
    return Text(stream_sid=_str(data, "streamSid", event, "streamSid"), text=text)


_PARSERS: Final[Mapping[str, Callable[[_Json, str], InboundMessage]]] = {
    "connected": _parse_connected,
    "start": _parse_start,
    "media": _parse_media,
    "mark": _parse_mark,
    "dtmf": _parse_dtmf,
    "stop": _parse_stop,
    "text": _parse_text,
}


def _object(data: _Json, key: str, event: str, path: str) -> _Json:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ProtocolError(f"{path}: expected an object", event)
    return value


def _str(data: _Json, key: str, event: str, path: str, *, allow_empty: bool = False) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"{path}: expected a string", event)
    if not value and not allow_empty:
        raise ProtocolError(f"{path}: empty", event)
    return value


def _optional_str(data: _Json, key: str, event: str, path: str) -> str | None:
    if data.get(key) is None:
        return None
    return _str(data, key, event, path, allow_empty=True)


def _int(data: _Json, key: str, event: str, path: str) -> int:
    """A non-negative integer sent as a JSON number or, as Twilio does, a decimal string."""
    value = data.get(key)
    # bool is an int subclass; `true` is never a count.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    # isdecimal() alone admits non-ASCII digits; int() of a 4,000-digit string is refused too.
    if isinstance(value, str) and value.isascii() and value.isdecimal() and len(value) <= 18:
        return int(value)
    raise ProtocolError(f"{path}: expected a non-negative integer", event)


def _sequence_number(data: _Json, event: str) -> int | None:
    """`sequenceNumber` is informative (ordering, logs): absent is fine, ill-typed is not."""
    if "sequenceNumber" not in data:
        return None
    return _int(data, "sequenceNumber", event, "sequenceNumber")


def _dump(message: _Json) -> str:
    # Compact separators: these go out 50 times a second per call.
    return json.dumps(message, separators=(",", ":"))


def media_message(stream_sid: str, payload: bytes) -> str:
    """Outbound `media`: μ-law 8 kHz bytes for Twilio to play to the caller."""
    return _dump(
        {
            "event": "media",
            "streamSid": stream_sid,
            "media": {"payload": base64.b64encode(payload).decode("ascii")},
        }
    )


def mark_message(stream_sid: str, name: str) -> str:
    """Outbound `mark`: Twilio echoes it back once everything sent before it has played."""
    return _dump({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    """Outbound `clear`: drop all audio Twilio has buffered (barge-in); pending marks return."""
    return _dump({"event": "clear", "streamSid": stream_sid})
