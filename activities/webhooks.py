"""Activities that deliver signed webhooks and record every attempt.

The HTTP client has no retries of its own: Temporal owns the retries, so each attempt is one
activity attempt, visible in the workflow history and recorded in `webhook_attempts`.

Recording an attempt is best effort: with PostgreSQL away the webhook still goes out, the HTTP
answer alone decides whether the attempt succeeded, and the workflow writes the delivery's
outcome once the database is back. Every database call has a time limit shorter than its
activity's, so a stale attempt cannot write after the workflow has moved on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.calls.activities import (
    DELIVER_WEBHOOK,
    FINISH_WEBHOOK_DELIVERY,
    RECORD_WEBHOOK_DELIVERY,
    DeliveryFinished,
    DeliveryRecord,
)
from core.calls.redaction import Redactor
from core.calls.types import DeliveryInput
from core.db.models import Call, Organization, WebhookAttempt, WebhookDelivery
from core.webhooks.destinations import ALLOW_PRIVATE, DestinationRefused, UnresolvableHost
from core.webhooks.endpoints import ensure_endpoint, signing_secrets
from core.webhooks.signing import encode_body, signed_headers

logger = logging.getLogger(__name__)
ERROR_TEXT_LIMIT = 500
# Of a receiver's answer only the status counts; a few KiB are read so a short answer leaves
# the connection reusable, and a hostile endless one costs nothing.
RESPONSE_READ_LIMIT = 4096
# The whole attempt, however slowly a receiver trickles its answer (below the activity's 30 s).
ATTEMPT_DEADLINE_S = 20.0
# Endpoints remembered for when PostgreSQL cannot be asked (bounded: least recent dropped).
ENDPOINT_MEMORY = 1024


@dataclass(frozen=True)
class _Endpoint:
    """What signing and sending to one endpoint needs, as last read from the database."""

    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    allow_private: bool


# Below the workflow's 30 s bookkeeping timeout: a hung write gives up before Temporal does.
BOOKKEEPING_DB_TIMEOUT_S = 20.0
# An attempt's own row may cost it this much at most; the HTTP answer is what counts.
ATTEMPT_RECORD_TIMEOUT_S = 5.0


class WebhookActivities:
    """Built with the database, an HTTP client (`core.webhooks.destinations.webhook_client`,
    which checks every destination when it connects), the fallback signing secret and whether
    every organization may send to private addresses.

    A delivery is signed with its endpoint's secrets (created on first use) and may reach a
    private address if its organization allows it. Endpoints are remembered, so while
    PostgreSQL is away webhooks to known endpoints still go out; an unknown one waits for the
    database (Temporal retries). Only deliveries naming no organization (started before
    organizations existed) are signed with the fallback secret, as they were then."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        secret: str,
        *,
        allow_private: bool = False,
        redactor: Redactor | None = None,
    ) -> None:
        self.sessions = sessions
        # Card numbers (and REDACT_PATTERNS) are neither sent nor stored in payloads.
        self.redact = redactor or Redactor()
        self.http = http
        self.secret = secret
        self.allow_private = allow_private
        self._endpoints: dict[tuple[int, str], _Endpoint] = {}

    @activity.defn(name=RECORD_WEBHOOK_DELIVERY)
    async def record_delivery(self, record: DeliveryRecord) -> int:
        """The delivery's whole row, created once per webhook id (idempotent).

        An existing row keeps its status: a replay is set `pending` by the API that claims it,
        and a late retry of this activity must not turn a finished delivery back to pending."""
        delivery = record.delivery
        async with asyncio.timeout(BOOKKEEPING_DB_TIMEOUT_S), self.sessions() as session:
            call_id = None
            if delivery.call_sid:
                call_id = await session.scalar(
                    select(Call.id).where(Call.call_sid == delivery.call_sid)
                )
            row_id = await session.scalar(
                insert(WebhookDelivery)
                .values(
                    webhook_id=delivery.webhook_id,
                    event_type=delivery.event_type.value,
                    url=delivery.url,
                    payload=self.redact.json(delivery.payload),
                    status="pending",
                    call_id=call_id,
                )
                .on_conflict_do_update(
                    index_elements=["webhook_id"],
                    set_={
                        "call_id": func.coalesce(WebhookDelivery.call_id, call_id),
                        "updated_at": func.now(),
                    },
                )
                .returning(WebhookDelivery.id)
            )
            await session.commit()
        assert row_id is not None
        return int(row_id)

    @activity.defn(name=DELIVER_WEBHOOK)
    async def deliver(self, delivery: DeliveryInput) -> int:
        """One attempt: sign, POST, record. A non-2xx answer or a network error raises, and
        Temporal retries with backoff; a destination refused (or an invalid URL) fails the
        delivery at once. Returns the attempt number (across replays too, when the attempts
        could be recorded; else this run's activity attempt)."""
        body = encode_body(self.redact.json(delivery.payload))
        now = datetime.now(UTC)
        keys, allow_private = await self._signing(delivery, now)
        headers = signed_headers(keys, delivery.webhook_id, now, body)
        started = time.perf_counter()
        status_code, error, final = await self._post(
            delivery.url, body.encode(), headers, allow_private=allow_private
        )
        number = await self._record_attempt(delivery.webhook_id, status_code, started, error)
        if error is not None:
            logger.info("webhook %s attempt %s failed: %s", delivery.webhook_id, number, error)
            if final:
                raise ApplicationError(error, type="InvalidWebhookTarget", non_retryable=True)
            raise ApplicationError(error, type="WebhookAttemptFailed")
        return number

    async def _signing(self, delivery: DeliveryInput, now: datetime) -> tuple[list[str], bool]:
        """The secrets to sign with now and whether private addresses are allowed."""
        organization_id = delivery.organization_id
        if organization_id is None:
            return [self.secret], self.allow_private
        key = (organization_id, delivery.url)
        try:
            async with asyncio.timeout(ATTEMPT_RECORD_TIMEOUT_S), self.sessions() as session:
                row = await ensure_endpoint(
                    session, organization_id=organization_id, url=delivery.url
                )
                allowed = await session.scalar(
                    select(Organization.allow_private_webhooks).where(
                        Organization.id == organization_id
                    )
                )
                await session.commit()
                endpoint = _Endpoint(
                    row.secret,
                    row.previous_secret,
                    row.previous_secret_expires_at,
                    self.allow_private or bool(allowed),
                )
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            known = self._endpoints.get(key)
            if known is None:
                logger.warning("webhook %s: endpoint not readable: %r", delivery.webhook_id, exc)
                raise ApplicationError(
                    "endpoint secret unavailable (database unreachable)",
                    type="WebhookAttemptFailed",
                ) from None
            endpoint = known
        self._endpoints.pop(key, None)
        self._endpoints[key] = endpoint
        if len(self._endpoints) > ENDPOINT_MEMORY:
            self._endpoints.pop(next(iter(self._endpoints)))
        return signing_secrets(endpoint, now), endpoint.allow_private

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], *, allow_private: bool
    ) -> tuple[int | None, str | None, bool]:
        """POST once: `(status, short reason or None, whether retrying is pointless)`.

        Redirects are not followed (a 3xx fails: it could point anywhere). At most
        `RESPONSE_READ_LIMIT` bytes of the answer are read, so the connection can be reused
        after a short answer; a longer one is dropped unread. The reason is ours, never the
        receiver's words: its body is not kept or shown anywhere."""
        try:
            async with (
                asyncio.timeout(ATTEMPT_DEADLINE_S),
                self.http.stream(
                    "POST",
                    url,
                    content=body,
                    headers=headers,
                    extensions={ALLOW_PRIVATE: allow_private},
                ) as response,
            ):
                await _read_at_most(response, RESPONSE_READ_LIMIT)
        except UnresolvableHost as exc:
            return None, exc.reason, False
        except DestinationRefused as exc:
            return None, f"refused: {exc.reason}", True
        except httpx.InvalidURL:
            return None, "invalid URL", True
        except (TimeoutError, httpx.TimeoutException):
            return None, "timeout", False
        except httpx.ConnectError:
            return None, "connection failed", False
        except httpx.HTTPError as exc:
            return None, _snake(type(exc).__name__), False
        except (UnicodeError, ValueError):
            return None, "invalid request", True
        code = response.status_code
        if 200 <= code < 300:
            return code, None, False
        if 300 <= code < 400:
            return code, f"redirect (HTTP {code}, not followed)", False
        return code, f"HTTP {code}", False

    async def _record_attempt(
        self, webhook_id: str, status_code: int | None, started: float, error: str | None
    ) -> int:
        """Record the attempt and return its number; never raises (the row is bookkeeping)."""
        latency_ms = (time.perf_counter() - started) * 1000
        try:
            async with asyncio.timeout(ATTEMPT_RECORD_TIMEOUT_S):
                number = await self._insert_attempt(webhook_id, status_code, latency_ms, error)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            logger.warning("webhook %s: attempt not recorded: %r", webhook_id, exc)
            return activity.info().attempt
        if number is None:
            # The delivery was not recorded before sending; the workflow writes it at the end.
            logger.warning("webhook %s: no delivery row, attempt not recorded", webhook_id)
            return activity.info().attempt
        return number

    async def _insert_attempt(
        self, webhook_id: str, status_code: int | None, latency_ms: float, error: str | None
    ) -> int | None:
        async with self.sessions() as session:
            delivery_id = await session.scalar(
                select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == webhook_id)
            )
            if delivery_id is None:
                return None
            previous = await session.scalar(
                select(func.coalesce(func.max(WebhookAttempt.number), 0)).where(
                    WebhookAttempt.delivery_id == delivery_id
                )
            )
            number = int(previous or 0) + 1
            session.add(
                WebhookAttempt(
                    delivery_id=delivery_id,
                    number=number,
                    status_code=status_code,
                    latency_ms=round(latency_ms, 2),
                    error=error[:ERROR_TEXT_LIMIT] if error else None,
                )
            )
            await session.commit()
        return number

    @activity.defn(name=FINISH_WEBHOOK_DELIVERY)
    async def finish_delivery(self, finished: DeliveryFinished) -> None:
        """Mark the delivery delivered, or failed (a dead letter the API can replay)."""
        status = "delivered" if finished.delivered else "failed"
        async with asyncio.timeout(BOOKKEEPING_DB_TIMEOUT_S), self.sessions() as session:
            marked = await session.scalar(
                update(WebhookDelivery)
                .where(WebhookDelivery.webhook_id == finished.webhook_id)
                .values(status=status)
                .returning(WebhookDelivery.id)
            )
            await session.commit()
        if marked is None:
            # The workflow writes the row before this; only a row deleted meanwhile is missing.
            logger.warning("webhook %s: no delivery row to mark %s", finished.webhook_id, status)
        elif not finished.delivered:
            logger.warning(
                "webhook %s is a dead letter (row %s): %s",
                finished.webhook_id,
                marked,
                (finished.error or "")[:ERROR_TEXT_LIMIT],
            )


async def _read_at_most(response: httpx.Response, limit: int) -> int:
    """Read the answer's body until `limit` bytes or its end; returns the bytes read."""
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read >= limit:
            break
    return read


def _snake(name: str) -> str:
    """`RemoteProtocolError` → `remote protocol error`: an exception's kind, not its text."""
    return "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
