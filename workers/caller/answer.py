"""Ringing the platform as Twilio does: a signed `POST /twilio/voice`, and reading its TwiML.

Twilio signs each webhook with the account's auth token over the URL it called (scheme, host,
path and query, exactly as configured) followed by every form field, sorted by name
(`X-Twilio-Signature`, HMAC-SHA1, base64). The platform checks that signature against its
PUBLIC_BASE_URL, so the caller signs the public URL while it may post to another address (the
API on loopback behind a tunnel or a proxy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx
from twilio.request_validator import RequestValidator

from workers.caller.errors import CallRejected, VoiceWebhookError

__all__ = ["StreamAnswer", "answer_call", "parse_twiml", "twilio_signature", "voice_form"]

VOICE_PATH: Final = "/twilio/voice"
# Twilio's webhooks carry this user agent; nothing depends on it, but logs read true.
USER_AGENT: Final = "TwilioProxy/1.1"
WEBHOOK_TIMEOUT_S: Final = 15.0  # Twilio gives up on a voice webhook after 15 s


@dataclass(frozen=True)
class StreamAnswer:
    """What the TwiML told Twilio to do: open `url` and hand the server `parameters`."""

    url: str
    parameters: dict[str, str]
    twiml: str


def voice_form(
    *, call_sid: str, account_sid: str, from_number: str, to_number: str
) -> dict[str, str]:
    """The form fields Twilio posts when an inbound call rings (the ones the platform reads,
    and enough of the rest that the signature covers a realistic request)."""
    return {
        "AccountSid": account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": "ringing",
        "Called": to_number,
        "Caller": from_number,
        "Direction": "inbound",
        "From": from_number,
        "To": to_number,
    }


def twilio_signature(auth_token: str, url: str, form: dict[str, str]) -> str:
    """`X-Twilio-Signature` for a POST of `form` to `url`, computed by Twilio's own library."""
    signature: str = RequestValidator(auth_token).compute_signature(url, form)
    return signature


def parse_twiml(twiml: str) -> StreamAnswer:
    """The `<Connect><Stream>` in a TwiML answer; `CallRejected` for any other answer."""
    try:
        root = ElementTree.fromstring(twiml)
    except ElementTree.ParseError:
        raise CallRejected("the answer to /twilio/voice is not TwiML", twiml) from None
    stream = root.find("./Connect/Stream")
    url = stream.get("url") if stream is not None else None
    if stream is None or not url:
        said = " ".join((say.text or "").strip() for say in root.iter("Say")).strip()
        message = "the platform answered without <Connect><Stream>"
        if said:
            message += f"; it said {said!r}"
        raise CallRejected(message, twiml, said)
    parameters = {
        name: parameter.get("value") or ""
        for parameter in stream.findall("Parameter")
        if (name := parameter.get("name"))
    }
    return StreamAnswer(url=url, parameters=parameters, twiml=twiml)


async def answer_call(
    http: httpx.AsyncClient,
    *,
    api_url: str,
    public_base_url: str,
    auth_token: str,
    form: dict[str, str],
    agent_id: int | None = None,
) -> StreamAnswer:
    """Post the signed voice webhook and return the media stream the platform connects."""
    path = VOICE_PATH + (f"?{urlencode({'agent': agent_id})}" if agent_id is not None else "")
    signed_url = public_base_url.rstrip("/") + path
    headers = {
        "X-Twilio-Signature": twilio_signature(auth_token, signed_url, form),
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": USER_AGENT,
    }
    target = api_url.rstrip("/") + path
    try:
        response = await http.post(
            target, content=urlencode(form), headers=headers, timeout=WEBHOOK_TIMEOUT_S
        )
    except httpx.HTTPError as exc:
        raise VoiceWebhookError(f"POST {target} failed: {exc}") from exc
    if response.status_code != 200:
        hint = (
            " (the signature did not match: check TWILIO_AUTH_TOKEN and the public base URL)"
            if response.status_code == 403
            else ""
        )
        raise VoiceWebhookError(
            f"POST {target} answered {response.status_code}{hint}: {response.text[:300]}",
            response.status_code,
        )
    return parse_twiml(response.text)
