"""Twilio's REST API through the `twilio` package, pointed at TWILIO_API_BASE_URL when set
(tests run a local server that speaks Twilio's wire protocol there)."""

from __future__ import annotations

from twilio.rest import Client as TwilioClient

from core.settings import Settings


def make_twilio_client(settings: Settings) -> TwilioClient | None:
    """A client for the configured account, or None when no account is configured."""
    if not settings.twilio_account_sid:
        return None
    client = TwilioClient(
        settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value()
    )
    if settings.twilio_api_base_url:
        client.api.base_url = settings.twilio_api_base_url.rstrip("/")
    return client


def create_outbound_call(
    client: TwilioClient, *, to: str, from_: str, url: str, status_callback: str
) -> str:
    """Place a call whose TwiML comes from `url`; returns its CallSid. Blocking (the twilio
    package is synchronous): call it in a thread from async code."""
    call = client.calls.create(
        to=to,
        from_=from_,
        url=url,
        status_callback=status_callback,
        status_callback_event=["completed"],
    )
    return str(call.sid)
