"""`X-Twilio-Signature`: how Twilio proves a request is its own, signed and checked in one place.

Twilio signs every webhook, and the WebSocket upgrade of every media stream, with the account's
auth token: base64 of HMAC-SHA1 over the URL exactly as configured (scheme, host, path, query)
followed by each form field's name and value, sorted by name (none for a WebSocket upgrade).
The API checks its webhooks here against PUBLIC_BASE_URL, the realtime server checks its media
socket here against REALTIME_PUBLIC_URL; both with Twilio's own `RequestValidator`, which also
accepts the URL with or without a default port, as Twilio may sign either. What stands in for
Twilio signs here too: the web console's test call its upgrade to a realtime node, the simulated
caller its voice webhooks and media streams.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

__all__ = ["twilio_signature", "twilio_signature_valid"]


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The `X-Twilio-Signature` Twilio would send with a request to `url` carrying `params`
    (none for a WebSocket upgrade), computed by Twilio's own library."""
    signature: str = RequestValidator(auth_token).compute_signature(url, dict(params))
    return signature


def twilio_signature_valid(
    auth_token: str, url: str, params: Mapping[str, str], signature: str
) -> bool:
    """Whether `signature` is Twilio's for a request to `url` carrying `params`."""
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))
