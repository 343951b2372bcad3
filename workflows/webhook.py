"""`WebhookDeliveryWorkflow`: one webhook to one receiver, retried by Temporal for up to a day.

A workflow of its own (id `webhook-<webhook-id>`), so a call can finish while its webhooks are
still being retried, and the workflow id makes each delivery start exactly once. Every attempt
is recorded by the activity; an exhausted delivery is marked `failed` (a dead letter the API
lists and can replay).

Bookkeeping never costs a delivery. Recording the delivery before its first attempt gets
`RECORD_DEADLINE` (never more than the delivery's own deadline); if PostgreSQL cannot take it by
then, the webhook is sent anyway and each attempt's row is written on a best-effort basis. The
final bookkeeping retries without an attempt limit for `FINAL_BOOKKEEPING_DEADLINE`, writing the
whole row first when the early record never got in, so once the database is back every delivery
shows as `delivered` or as a `failed` dead letter that can be replayed.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core.calls.activities import (
        DELIVER_WEBHOOK,
        FINISH_WEBHOOK_DELIVERY,
        RECORD_WEBHOOK_DELIVERY,
        DeliveryFinished,
        DeliveryRecord,
    )
    from core.calls.types import DeliveryInput, DeliveryResult, WebhookRetry

BOOKKEEPING_TIMEOUT = timedelta(seconds=30)
# Bounded: a database that cannot record a delivery holds it up this long at most.
RECORD_DEADLINE = timedelta(seconds=60)
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10)
)
# No attempt limit, a long deadline: the outcome is written as soon as the database is back.
FINAL_BOOKKEEPING_DEADLINE = timedelta(days=7)
FINAL_BOOKKEEPING_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
ATTEMPT_TIMEOUT = timedelta(seconds=30)
ERROR_TEXT_LIMIT = 500


def webhook_workflow_id(webhook_id: str, replay: int = 0) -> str:
    """`webhook-<id>`, and `webhook-<id>-replay-<n>` for the n-th manual replay."""
    return f"webhook-{webhook_id}" + (f"-replay-{replay}" if replay else "")


def record_deadline(retry: WebhookRetry) -> timedelta:
    """How long the first attempt may wait for its delivery to be recorded: `RECORD_DEADLINE`,
    or the delivery's whole deadline when that is shorter."""
    return min(RECORD_DEADLINE, timedelta(seconds=retry.deadline_s))


@workflow.defn
class WebhookDeliveryWorkflow:
    """Delivers one signed webhook, recording every attempt."""

    @workflow.run
    async def run(self, delivery: DeliveryInput) -> DeliveryResult:
        """Record the delivery, attempt it until it succeeds or the deadline passes, record how
        it ended."""
        retry = delivery.retry
        recorded = True
        try:
            await self._record(delivery, record_deadline(retry), RECORD_RETRY)
        except ActivityError as exc:
            # Send it anyway: the row is written after the attempts, once the database is back.
            recorded = False
            workflow.logger.warning(
                "webhook %s not recorded before sending: %s", delivery.webhook_id, exc.cause or exc
            )
        error: str | None = None
        attempts = 0
        try:
            # The activity answers with the attempt number that got through.
            attempts = await workflow.execute_activity(
                DELIVER_WEBHOOK,
                delivery,
                result_type=int,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=timedelta(seconds=retry.deadline_s),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=retry.initial_interval_s),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=retry.maximum_interval_s),
                    non_retryable_error_types=["InvalidWebhookTarget"],
                ),
            )
        except ActivityError as exc:
            error = str(exc.cause or exc)[:ERROR_TEXT_LIMIT]
            workflow.logger.warning("webhook %s exhausted: %s", delivery.webhook_id, error)
        if not recorded:
            await self._record(delivery, FINAL_BOOKKEEPING_DEADLINE, FINAL_BOOKKEEPING_RETRY)
        await workflow.execute_activity(
            FINISH_WEBHOOK_DELIVERY,
            DeliveryFinished(webhook_id=delivery.webhook_id, delivered=error is None, error=error),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            schedule_to_close_timeout=FINAL_BOOKKEEPING_DEADLINE,
            retry_policy=FINAL_BOOKKEEPING_RETRY,
        )
        return DeliveryResult(
            webhook_id=delivery.webhook_id, delivered=error is None, attempts=attempts, error=error
        )

    async def _record(
        self, delivery: DeliveryInput, deadline: timedelta, retry_policy: RetryPolicy
    ) -> None:
        """Write the delivery's row (an idempotent upsert of the whole row)."""
        await workflow.execute_activity(
            RECORD_WEBHOOK_DELIVERY,
            DeliveryRecord(delivery=delivery),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            schedule_to_close_timeout=deadline,
            retry_policy=retry_policy,
        )
