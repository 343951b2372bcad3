"""`WebhookDeliveryWorkflow`: one webhook to one receiver, retried by Temporal for up to a day.

A workflow of its own (id `webhook-<webhook-id>`), so a call can finish while its webhooks are
still being retried, and the workflow id makes each delivery start exactly once. Every attempt
is recorded by the activity; an exhausted delivery is marked `failed` (a dead letter the API
lists and can replay).
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
    from core.calls.types import DeliveryInput, DeliveryResult

BOOKKEEPING_TIMEOUT = timedelta(seconds=30)
# Bounded: a delivery whose row cannot be written fails visibly instead of retrying forever.
BOOKKEEPING_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=20)
ATTEMPT_TIMEOUT = timedelta(seconds=30)


def webhook_workflow_id(webhook_id: str, replay: int = 0) -> str:
    """`webhook-<id>`, and `webhook-<id>-replay-<n>` for the n-th manual replay."""
    return f"webhook-{webhook_id}" + (f"-replay-{replay}" if replay else "")


@workflow.defn
class WebhookDeliveryWorkflow:
    """Delivers one signed webhook, recording every attempt."""

    @workflow.run
    async def run(self, delivery: DeliveryInput) -> DeliveryResult:
        """Record the delivery, attempt it until it succeeds or the deadline passes."""
        await workflow.execute_activity(
            RECORD_WEBHOOK_DELIVERY,
            DeliveryRecord(delivery=delivery),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )
        retry = delivery.retry
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
            error = str(exc.cause or exc)
            workflow.logger.warning("webhook %s exhausted: %s", delivery.webhook_id, error)
        await workflow.execute_activity(
            FINISH_WEBHOOK_DELIVERY,
            DeliveryFinished(webhook_id=delivery.webhook_id, delivered=error is None, error=error),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )
        return DeliveryResult(
            webhook_id=delivery.webhook_id, delivered=error is None, attempts=attempts, error=error
        )
