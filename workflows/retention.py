"""`RetentionWorkflow`: purge every call past its organization's retention, in batches (run
hourly by the `retention` Temporal Schedule, `core.calls.retention`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.calls.retention import (
        PURGE_EXPIRED_CALLS,
        RETENTION_WORKFLOW,
        PurgeBatch,
        PurgeResult,
        RetentionSweep,
    )

PURGE_TIMEOUT = timedelta(minutes=10)
PURGE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=10)
MAX_BATCHES = 500  # a bound per sweep; the next sweep goes on where this one stopped


@workflow.defn(name=RETENTION_WORKFLOW)
class RetentionWorkflow:
    """One sweep: purge batches until a batch comes back short."""

    @workflow.run
    async def run(self, sweep: RetentionSweep) -> PurgeResult:
        """Purge expired calls; return how many calls and histories were purged."""
        total = PurgeResult()
        for _ in range(MAX_BATCHES):
            done: PurgeResult = await workflow.execute_activity(
                PURGE_EXPIRED_CALLS,
                PurgeBatch(limit=sweep.batch),
                result_type=PurgeResult,
                start_to_close_timeout=PURGE_TIMEOUT,
                retry_policy=PURGE_RETRY,
            )
            total.calls += done.calls
            total.histories += done.histories
            if done.calls < sweep.batch:
                break
        return total
