"""A webhook sink: a small HTTP server on loopback that records what the platform delivers.

Point an agent's webhook URLs at it (`http://127.0.0.1:<port>/...`) to see `goal.completed` and
`call.completed` arrive after a simulated call. Every POST is answered 200 and recorded; given
the secrets, each is checked as a Standard Webhooks receiver would check it, with the platform's
own signing code (`core/webhooks/signing.py`) recomputing the signature. Each webhook URL is an
endpoint with its own secret: `learn_secrets` fetches those of the sink's URLs through the API
(once the agents naming them exist); `secret` serves any other path (the platform's fallback
secret, for deliveries of no organization).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send

from core.webhooks.signing import signed_headers

__all__ = ["ReceivedWebhook", "WebhookSink", "run_webhook_sink", "verify_signature"]

_LOGGER = logging.getLogger(__name__)

# The Standard Webhooks reference receivers refuse a timestamp further than this from now,
# which is what stops a captured delivery being replayed later.
TIMESTAMP_TOLERANCE: Final = timedelta(minutes=5)
MAX_BODY_BYTES: Final = 1_048_576
START_TIMEOUT_S: Final = 10.0


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """True if `webhook-signature` holds a valid `v1` signature of this body, id and timestamp."""
    webhook_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (webhook_id and timestamp.isdigit() and signatures):
        return False
    sent_at = datetime.fromtimestamp(int(timestamp), UTC)
    if abs(datetime.now(UTC) - sent_at) > TIMESTAMP_TOLERANCE:
        return False
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    expected = signed_headers(secret, webhook_id, sent_at, text)["webhook-signature"]
    _, _, expected_signature = expected.partition(",")
    # The header may carry several signatures (during a secret rotation), space-separated.
    for candidate in signatures.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected_signature):
            return True
    return False


@dataclass
class ReceivedWebhook:
    """One POST the sink received."""

    path: str
    headers: dict[str, str]
    body: bytes
    received_at: datetime
    verified: bool | None
    """Signature valid (True), invalid (False), or not checked: no secret given (None)."""

    @property
    def payload(self) -> Any:
        """The JSON body, or None if it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def event_type(self) -> str | None:
        """The Standard Webhooks envelope's `type` (`goal.completed`, `call.completed`)."""
        payload = self.payload
        kind = payload.get("type") if isinstance(payload, dict) else None
        return kind if isinstance(kind, str) else None


@dataclass
class WebhookSink:
    """An ASGI app recording every POST; `url` is set once it is served."""

    secret: str | None = None
    url: str = ""
    secrets: dict[str, list[str]] = field(default_factory=dict)
    """Per path, the secrets of the endpoint delivering there (current, and previous during a
    rotation)."""
    received: list[ReceivedWebhook] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    async def learn_secrets(self, api: httpx.AsyncClient) -> int:
        """Fetch the secret of every webhook endpoint that points at this sink, through the API
        (`api` carries a key with `webhooks:write` and its base URL); how many were found."""
        listed = (await api.get("/api/webhooks/endpoints")).raise_for_status().json()
        found = 0
        for endpoint in listed:
            url = str(endpoint["url"])
            if not url.startswith(self.url + "/"):
                continue
            answer = await api.get(f"/api/webhooks/endpoints/{endpoint['id']}/secret")
            secret = answer.raise_for_status().json()
            path = url[len(self.url) :].split("?", 1)[0]
            self.secrets[path] = [s for s in (secret["secret"], secret["previous_secret"]) if s]
            found += 1
        return found

    def verify(self, path: str, headers: dict[str, str], body: bytes) -> bool | None:
        """The signature checked with the path's secrets (or `secret`); None: none known."""
        candidates = self.secrets.get(path) or ([self.secret] if self.secret else [])
        if not candidates:
            return None
        return any(verify_signature(secret, headers, body) for secret in candidates)

    async def wait_for(self, event_type: str, timeout_s: float) -> ReceivedWebhook | None:
        """The first webhook of `event_type`, waiting up to `timeout_s` for it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            # Cleared before looking, so a webhook landing in between still wakes the wait.
            self._arrived.clear()
            for webhook in self.received:
                if webhook.event_type == event_type:
                    return webhook
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan: nothing to set up
        if scope["method"] != "POST":
            await _answer(send, 405, b"POST only")
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _answer(send, 413, b"too large")
                return
            if not message.get("more_body"):
                break
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        verified = self.verify(scope["path"], headers, body)
        webhook = ReceivedWebhook(scope["path"], headers, body, datetime.now(UTC), verified)
        self.received.append(webhook)
        self._arrived.set()
        _LOGGER.info("webhook %s at %s (verified: %s)", webhook.event_type, webhook.path, verified)
        await _answer(send, 200, b"ok")


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def run_webhook_sink(
    port: int = 0, *, secret: str | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[WebhookSink]:
    """Serve a `WebhookSink` on `host:port` (0: a free port) for the block's duration.

    Raises OSError at once if the port is taken: the socket is bound here, not inside uvicorn,
    which would exit the whole process instead.
    """
    sink = WebhookSink(secret=secret)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    server = uvicorn.Server(uvicorn.Config(sink, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[listener]), name="webhook-sink")
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("the webhook sink stopped before it started")
                await asyncio.sleep(0.02)
        sink.url = f"http://{host}:{listener.getsockname()[1]}"
        yield sink
    finally:
        server.should_exit = True
        await asyncio.wait({task}, timeout=START_TIMEOUT_S)
        listener.close()
