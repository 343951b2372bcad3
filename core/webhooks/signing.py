"""Standard Webhooks: the payload envelope and the `webhook-*` headers.

Signing is the `standardwebhooks` package's (the spec's reference implementation), not ours:
`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` with the secret's base64 part as key.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook


def event_envelope(event_type: str, timestamp: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The payload shape Standard Webhooks recommends: `{"type", "timestamp", "data"}`."""
    return {"type": event_type, "timestamp": timestamp.isoformat(), "data": data}


def encode_body(payload: dict[str, Any]) -> str:
    """The exact bytes that are signed and sent (compact, stable key order as given)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)


def signed_headers(secret: str, webhook_id: str, sent_at: datetime, body: str) -> dict[str, str]:
    """The three `webhook-*` headers for one attempt (the timestamp is the attempt's own)."""
    signature = Webhook(secret).sign(webhook_id, sent_at, body)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
