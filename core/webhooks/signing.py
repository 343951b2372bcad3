"""Standard Webhooks: the payload envelope and the `webhook-*` headers.

Signing is the `standardwebhooks` package's (the spec's reference implementation), not ours:
`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` with the secret's base64 part as key.
While an endpoint's secret is being rotated the header carries one signature per secret,
space-separated (`v1,<new> v1,<old>`), as the spec allows: a receiver holding either accepts.

A secret is `whsec_` + base64 of 24 to 64 random bytes (the spec's range); anything else is
refused, since a short key can be guessed offline from one signed message.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook


def event_envelope(event_type: str, timestamp: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The payload shape Standard Webhooks recommends: `{"type", "timestamp", "data"}`."""
    return {"type": event_type, "timestamp": timestamp.isoformat(), "data": data}


def encode_body(payload: dict[str, Any]) -> str:
    """The exact bytes that are signed and sent (compact, stable key order as given)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)


SECRET_PREFIX = "whsec_"
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
NEW_SECRET_BYTES = 32


class InvalidSecret(ValueError):
    """A webhook secret not of the form `whsec_` + base64 of 24 to 64 bytes."""


def new_secret() -> str:
    """A fresh endpoint secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(NEW_SECRET_BYTES)).decode()


def check_secret(secret: str) -> str:
    """`secret` if it is `whsec_` + standard base64 of 24 to 64 bytes; InvalidSecret if not."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret(f"a webhook secret starts with `{SECRET_PREFIX}`")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("a webhook secret is `whsec_` + base64") from None
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise InvalidSecret(
            f"a webhook secret holds {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} random bytes; "
            f"this one {len(key)}"
        )
    return secret


def signed_headers(
    secret: str | Sequence[str], webhook_id: str, sent_at: datetime, body: str
) -> dict[str, str]:
    """The three `webhook-*` headers for one attempt (the timestamp is the attempt's own); one
    signature per secret given (the current one first)."""
    keys = [secret] if isinstance(secret, str) else list(secret)
    signature = " ".join(Webhook(key).sign(webhook_id, sent_at, body) for key in keys)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
