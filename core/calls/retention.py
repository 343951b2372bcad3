"""The retention contract: names and payloads of `RetentionWorkflow` and its activity, and the
Temporal Schedule that runs it (created by every worker at start; creating it again is a no-op).

Each organization's `retention_days` (None = keep forever) bounds how long a finished call keeps
its caller's data: transcript, summary, extracted data and analysis, phone numbers, webhook
payloads, and its Temporal histories. The call's row stays (agent, direction, outcome, times),
so counts and reports still add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

RETENTION_WORKFLOW = "RetentionWorkflow"
RETENTION_WORKFLOW_ID = "retention-sweep"
RETENTION_SCHEDULE_ID = "retention"
RETENTION_INTERVAL = timedelta(hours=1)
PURGE_EXPIRED_CALLS = "purge_expired_calls"
PURGE_BATCH = 200


@dataclass
class RetentionSweep:
    """Input of `RetentionWorkflow`: how many calls each activity run purges."""

    batch: int = PURGE_BATCH


@dataclass
class PurgeBatch:
    """Input of the purge activity."""

    limit: int = PURGE_BATCH


@dataclass
class PurgeResult:
    """What one purge run (or a whole sweep) did."""

    calls: int = 0
    histories: int = 0


async def ensure_retention_schedule(client: Client, *, task_queue: str) -> bool:
    """Create the hourly retention schedule unless it exists; True when it was created."""
    try:
        await client.create_schedule(
            RETENTION_SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    RETENTION_WORKFLOW,
                    RetentionSweep(),
                    id=RETENTION_WORKFLOW_ID,
                    task_queue=task_queue,
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=RETENTION_INTERVAL)]),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        return False
    return True
