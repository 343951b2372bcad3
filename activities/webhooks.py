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
from core.calls.types import DeliveryInput
from core.db.models import Call, WebhookAttempt, WebhookDelivery
from core.webhooks.signing import encode_body, signed_headers

logger = logging.getLogger(__name__)
ERROR_TEXT_LIMIT = 500
# Below the workflow's 30 s bookkeeping timeout: a hung write gives up before Temporal does.
BOOKKEEPING_DB_TIMEOUT_S = 20.0
# An attempt's own row may cost it this much at most; the HTTP answer is what counts.
ATTEMPT_RECORD_TIMEOUT_S = 5.0


class WebhookActivities:
    """Built with the database, an HTTP client and the signing secret."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, secret: str
    ) -> None:
        self.sessions = sessions
        self.http = http
        self.secret = secret

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
                    payload=delivery.payload,
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
        Temporal retries with backoff. Returns the attempt number (across replays too, when the
        attempts could be recorded; else this run's activity attempt)."""
        body = encode_body(delivery.payload)
        headers = signed_headers(self.secret, delivery.webhook_id, datetime.now(UTC), body)
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            response = await self.http.post(delivery.url, content=body.encode(), headers=headers)
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"receiver answered {status_code}: {response.text[:200]}"
        except httpx.InvalidURL as exc:
            error = f"invalid URL: {exc}"
            await self._record_attempt(delivery.webhook_id, None, started, error)
            raise ApplicationError(error, type="InvalidWebhookTarget", non_retryable=True) from exc
        except (httpx.HTTPError, UnicodeError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        number = await self._record_attempt(delivery.webhook_id, status_code, started, error)
        if error is not None:
            logger.info("webhook %s attempt %s failed: %s", delivery.webhook_id, number, error)
            raise ApplicationError(error, type="WebhookAttemptFailed")
        return number

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
