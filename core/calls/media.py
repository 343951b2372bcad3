"""Where Twilio opens a call's media stream: one rule for the API, the realtime process and the
tools that stand in for Twilio."""

from __future__ import annotations

from typing import Final

MEDIA_PATH: Final = "/twilio/media"


def media_stream_url(base: str) -> str:
    """The media WebSocket under an http(s) base URL: wss for https, ws for http (a ws/wss base
    is kept)."""
    base = base.rstrip("/")
    for plain, secure in (("https://", "wss://"), ("http://", "ws://")):
        if base.startswith(plain):
            base = secure + base.removeprefix(plain)
            break
    return f"{base}{MEDIA_PATH}"
