"""The short-lived token that lets one media stream join one call.

`POST /twilio/voice` puts it in the TwiML as a `<Parameter>`; Twilio hands it to the realtime
server in the stream's `start` message; the realtime server refuses a stream without a valid one.
A JWT (HS256, PyJWT) signed with CALL_TOKEN_SECRET, carrying the call, the agent and an expiry.

The web console's test calls (`api/routes/console.py`) stand in for Twilio; their tokens say so
(`console`), and only such streams may send typed caller turns (a `text` event), which Twilio
never sends.

A second kind, the voice preview token (`issue_preview_token`), lets the API ask a realtime node
to speak a test phrase (`POST /voice/preview`, the builder's "Play test phrase"). It is signed
with the same secret but has an audience of its own, so neither kind passes for the other.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

TOKEN_LIFETIME = timedelta(minutes=2)  # enough for Twilio to open the stream, no more
_AUDIENCE = "callwright-media-stream"
_ALGORITHM = "HS256"
PREVIEW_TOKEN_LIFETIME = timedelta(seconds=30)  # one request from the API to a node
_PREVIEW_AUDIENCE = "callwright-voice-preview"


class InvalidCallToken(Exception):
    """The token is missing, forged, expired or for another purpose."""


@dataclass(frozen=True)
class CallClaims:
    """What a valid token says."""

    call_sid: str
    agent_id: int
    console: bool = False
    """The stream comes from the web console's test call, not from Twilio."""


def issue_call_token(
    secret: str,
    *,
    call_sid: str,
    agent_id: int,
    console: bool = False,
    now: datetime | None = None,
) -> str:
    """A token for `call_sid`'s media stream, valid for TOKEN_LIFETIME; `console` for a test
    call from the web console."""
    issued = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": call_sid,
        "agent": agent_id,
        "aud": _AUDIENCE,
        "iat": issued,
        "exp": issued + TOKEN_LIFETIME,
        # Unique per token, so two issued in the same second differ: the realtime server lets
        # each token start one stream only (`core.calls.token_uses`).
        "jti": uuid.uuid4().hex,
    }
    if console:
        claims["console"] = True  # absent otherwise: a phone call's token is as it always was
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify_call_token(secret: str, token: str) -> CallClaims:
    """The claims of a valid token; InvalidCallToken otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
        return CallClaims(
            call_sid=str(claims["sub"]),
            agent_id=int(claims["agent"]),
            console=claims.get("console") is True,
        )
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
        raise InvalidCallToken(str(exc)) from exc


class InvalidPreviewToken(InvalidCallToken):
    """The voice preview token is missing, forged, expired or for another purpose."""


@dataclass(frozen=True)
class PreviewClaims:
    """What a valid voice preview token says."""

    organization_id: int
    """Whose admin asked: for the node's log, not for access (a preview reads no data)."""


def issue_preview_token(secret: str, *, organization_id: int, now: datetime | None = None) -> str:
    """A token for one voice preview request to a realtime node, valid for
    PREVIEW_TOKEN_LIFETIME."""
    issued = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": str(organization_id),
        "aud": _PREVIEW_AUDIENCE,
        "iat": issued,
        "exp": issued + PREVIEW_TOKEN_LIFETIME,
        "jti": uuid.uuid4().hex,  # the node takes each token once (`core.calls.token_uses`)
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify_preview_token(secret: str, token: str) -> PreviewClaims:
    """The claims of a valid voice preview token; InvalidPreviewToken otherwise (a call token
    included: its audience differs)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=_PREVIEW_AUDIENCE,
            options={"require": ["exp", "sub", "aud", "jti"]},
        )
        return PreviewClaims(organization_id=int(claims["sub"]))
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
        raise InvalidPreviewToken(str(exc)) from exc
