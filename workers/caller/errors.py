"""Why a simulated call could not take place.

    CallerError
    ├── VoiceWebhookError   POST /twilio/voice failed (network, 403 bad signature, 5xx)
    ├── CallRejected        the answer was TwiML, but not a <Connect><Stream> (e.g. <Say><Hangup>)
    └── MediaStreamError    the media WebSocket could not be opened

Once the stream is open, nothing raises: what the server does (close the socket, send a bad
frame, never answer) is what the caller is there to observe, and it lands in the `CallReport`.
"""

from __future__ import annotations

__all__ = ["CallRejected", "CallerError", "MediaStreamError", "VoiceWebhookError"]


class CallerError(Exception):
    """The simulated call could not take place."""


class VoiceWebhookError(CallerError):
    """`POST /twilio/voice` did not answer 200 with TwiML."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class CallRejected(CallerError):
    """The platform answered, but did not connect a media stream.

    `said` is what a `<Say>` in the answer would have told a real caller, if anything.
    """

    def __init__(self, message: str, twiml: str, said: str = "") -> None:
        super().__init__(message)
        self.twiml = twiml
        self.said = said


class MediaStreamError(CallerError):
    """The media WebSocket named in the TwiML could not be opened."""
