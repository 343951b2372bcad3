"""Ringing the platform as Twilio does: a signed `POST /twilio/voice`, and reading its TwiML.

Twilio executes a TwiML document verb by verb: `<Say>` is spoken, `<Pause>` waits,
`<Connect><Stream>` holds the call on a media stream until the stream closes, and then Twilio
goes on with the next verb; `<Redirect>` fetches a new document (a signed POST, like the voice
webhook); `<Hangup/>` and `<Reject/>` end the call; running off the end hangs up. `parse_verbs`
reads a document into those verbs, and `post_twiml` makes the signed request.

Twilio signs each webhook with the account's auth token over the URL it called (scheme, host,
path and query, exactly as configured) followed by every form field, sorted by name
(`X-Twilio-Signature`, HMAC-SHA1, base64). The platform checks that signature against its
PUBLIC_BASE_URL, so the caller signs the public URL while it may post to another address (the
API on loopback behind a tunnel or a proxy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx

from core.twilio_signature import twilio_signature
from workers.caller.errors import CallRejected, VoiceWebhookError

__all__ = [
    "HangupVerb",
    "PauseVerb",
    "RedirectVerb",
    "SayVerb",
    "StreamAnswer",
    "Verb",
    "answer_call",
    "parse_twiml",
    "parse_verbs",
    "post_twiml",
    "voice_form",
]

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


@dataclass(frozen=True)
class SayVerb:
    """`<Say>`: Twilio speaks `text` to the caller."""

    text: str


@dataclass(frozen=True)
class PauseVerb:
    """`<Pause length="n">`."""

    seconds: float


@dataclass(frozen=True)
class RedirectVerb:
    """`<Redirect>`: fetch the next TwiML document from `url`."""

    url: str


@dataclass(frozen=True)
class HangupVerb:
    """`<Hangup/>` or `<Reject/>` (`rejected` with its reason): the call ends."""

    rejected: str | None = None


Verb: TypeAlias = SayVerb | PauseVerb | RedirectVerb | HangupVerb | StreamAnswer


def parse_verbs(twiml: str) -> list[Verb]:
    """The verbs of a TwiML document, in order; `CallRejected` if it is not TwiML. Verbs a
    Twilio call would run that the simulated caller does not need (`<Play>`, `<Gather>`…) are
    skipped, as a caller who heard them and said nothing."""
    try:
        root = ElementTree.fromstring(twiml)
    except ElementTree.ParseError:
        raise CallRejected("the answer is not TwiML", twiml) from None
    verbs: list[Verb] = []
    for element in root:
        if element.tag == "Say":
            verbs.append(SayVerb((element.text or "").strip()))
        elif element.tag == "Pause":
            verbs.append(PauseVerb(float(element.get("length") or 1)))
        elif element.tag == "Redirect" and element.text:
            verbs.append(RedirectVerb(element.text.strip()))
        elif element.tag == "Hangup":
            verbs.append(HangupVerb())
        elif element.tag == "Reject":
            verbs.append(HangupVerb(rejected=element.get("reason") or "rejected"))
        elif element.tag == "Connect" and (stream := element.find("Stream")) is not None:
            verbs.append(_stream(stream, twiml))
    return verbs


def _stream(stream: ElementTree.Element, twiml: str) -> StreamAnswer:
    url = stream.get("url") or ""
    parameters = {
        name: parameter.get("value") or ""
        for parameter in stream.findall("Parameter")
        if (name := parameter.get("name"))
    }
    return StreamAnswer(url=url, parameters=parameters, twiml=twiml)


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


def parse_twiml(twiml: str) -> StreamAnswer:
    """The `<Connect><Stream>` in a TwiML answer; `CallRejected` for any other answer."""
    verbs = parse_verbs(twiml)
    stream = next((v for v in verbs if isinstance(v, StreamAnswer)), None)
    if stream is None or not stream.url:
        said = " ".join(v.text for v in verbs if isinstance(v, SayVerb)).strip()
        message = "the platform answered without <Connect><Stream>"
        if said:
            message += f"; it said {said!r}"
        raise CallRejected(message, twiml, said)
    return stream


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
    return parse_twiml(
        await post_twiml(
            http,
            signed_url=public_base_url.rstrip("/") + path,
            target=api_url.rstrip("/") + path,
            auth_token=auth_token,
            form=form,
        )
    )


async def post_twiml(
    http: httpx.AsyncClient, *, signed_url: str, target: str, auth_token: str, form: dict[str, str]
) -> str:
    """POST `form` to `target`, signed for `signed_url` (the public URL the platform believes
    Twilio called), and return the TwiML answered."""
    headers = {
        "X-Twilio-Signature": twilio_signature(auth_token, signed_url, form),
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": USER_AGENT,
    }
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
    return response.text
