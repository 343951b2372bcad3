"""What a media socket must get past before, and while, it carries a call.

`/twilio/media` is on the internet; only Twilio should talk to it, and even Twilio's streams must
not be able to cost the process more than a call's worth. In order:

1. **The upgrade is signed.** Twilio signs the WebSocket upgrade with `X-Twilio-Signature`
   (HMAC-SHA1 of the `wss://` URL with the account's auth token, no form fields), as it signs
   its webhooks (`core.twilio_signature`). The URL checked is the one Twilio was told to open:
   REALTIME_PUBLIC_URL's media URL plus the request's query string — the same address the API
   puts in the TwiML and the node registers in Redis. Without REALTIME_PUBLIC_URL (a local
   install) it is the URL the request reached, from its Host header. An unsigned upgrade is
   refused before it is accepted (HTTP 403).
2. **Few sockets wait for `start`.** Those still unauthenticated are capped per node
   (MEDIA_MAX_PENDING_SOCKETS) and each has MEDIA_START_TIMEOUT_S to present a valid `start`;
   its call token then starts one stream only (`core.calls.token_uses`).
3. **Bad frames are counted, not trusted.** A dropped frame is counted under one reason of the
   fixed `BadFrame` set (an invented event name is `unknown_event`, never a label of its own);
   log lines about them are rate-limited per socket and per process; after MEDIA_MAX_BAD_FRAMES
   the socket is closed.
4. **Audio comes in real time.** Twilio sends 20 ms of audio every 20 ms. A stream may run
   ahead of the clock by `AUDIO_BURST_S` (network jitter, a stall catching up); frames beyond
   that are dropped as `too_fast`, so a flood soon closes the socket. Other messages (marks,
   keys) have a budget of their own.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from starlette.websockets import WebSocket

from core.calls.media import media_stream_url
from core.settings import Settings
from core.twilio_signature import twilio_signature_valid
from realtime.twilio_protocol import EXPECTED_SAMPLE_RATE

__all__ = [
    "AUDIO_BURST_S",
    "LogLimiter",
    "RealTimeBudget",
    "signed_upgrade",
    "signed_url",
]

AUDIO_BURST_S: Final = 2.0
"""How far ahead of the wall clock a stream's audio may run."""
FRAME_S: Final = 0.02
"""Every media frame counts as at least 20 ms, however small its payload."""
OTHER_MESSAGES_PER_S: Final = 20.0
OTHER_MESSAGES_BURST: Final = 40.0


def signed_url(settings: Settings, websocket: WebSocket) -> str:
    """The URL Twilio signed for this upgrade (see the module docstring)."""
    query = websocket.url.query
    if settings.realtime_public_url:
        base = media_stream_url(settings.realtime_public_url)
    else:
        url = websocket.url
        base = f"{url.scheme}://{url.netloc}{url.path}"
    return base + (f"?{query}" if query else "")


def signed_upgrade(settings: Settings, websocket: WebSocket) -> bool:
    """Whether the upgrade carries Twilio's signature for this node's media URL."""
    return twilio_signature_valid(
        settings.twilio_auth_token.get_secret_value(),
        signed_url(settings, websocket),
        {},
        websocket.headers.get("x-twilio-signature", ""),
    )


class LogLimiter:
    """At most `burst` lines at once and `per_s` a second after that; the lines held back are
    counted, and the next line let through says how many."""

    def __init__(self, per_s: float, burst: float) -> None:
        self.per_s = per_s
        self.burst = burst
        self._tokens = burst
        self._at = time.monotonic()
        self.suppressed = 0

    def allow(self) -> int | None:
        """None: hold this line back. Otherwise the number of lines held back since the last
        one let through (reset to 0)."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_s)
        self._at = now
        if self._tokens < 1:
            self.suppressed += 1
            return None
        self._tokens -= 1
        held, self.suppressed = self.suppressed, 0
        return held

    def warning(self, logger: logging.Logger, message: str, *args: object) -> None:
        """`logger.warning(message, *args)` within the limit, saying how many were held back."""
        held = self.allow()
        if held:
            logger.warning(message + " (%d similar lines held back)", *args, held)
        elif held is not None:
            logger.warning(message, *args)


class RealTimeBudget:
    """Whether a stream's inbound frames keep to real time (see the module docstring)."""

    def __init__(self, burst_s: float = AUDIO_BURST_S) -> None:
        self.burst_s = burst_s
        self._started = time.monotonic()
        self._audio_s = 0.0
        self._others = LogLimiter(OTHER_MESSAGES_PER_S, OTHER_MESSAGES_BURST)

    def media(self, payload_bytes: int) -> bool:
        """Take a media frame of `payload_bytes` of 8 kHz μ-law; False if it is too early."""
        seconds = max(payload_bytes / EXPECTED_SAMPLE_RATE, FRAME_S)
        if self._audio_s + seconds > time.monotonic() - self._started + self.burst_s:
            return False
        self._audio_s += seconds
        return True

    def other(self) -> bool:
        """Take a message that is not audio (mark, dtmf); False past its budget."""
        return self._others.allow() is not None
