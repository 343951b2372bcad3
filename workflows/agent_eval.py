"""`AgentEvalWorkflow` (`agent-eval-<agent_id>-<uuid>`): run eval scenarios against an agent
snapshot in the worker, where the eval code lives, and answer the result (`core.evals`).

One activity does the work; the workflow exists so the API can ask a worker for it without
importing it. The whole run is bounded by `EVAL_TIMEOUT`: a retry after a lost worker happens
only while time is left, and a scenario that cannot be read is not retried at all.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.evals import (
        AGENT_EVAL_WORKFLOW,
        EVAL_TIMEOUT,
        RUN_AGENT_EVAL_ACTIVITY,
        SCENARIOS_UNREADABLE,
        AgentEvalRequest,
        AgentEvalResult,
    )

# The activity heartbeats while its scenarios run; a worker that died mid-run is noticed within
# this, and the run goes to another worker if the request's time allows.
EVAL_HEARTBEAT = timedelta(seconds=20)
EVAL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_attempts=2,
    non_retryable_error_types=[SCENARIOS_UNREADABLE],
)


@workflow.defn(name=AGENT_EVAL_WORKFLOW)
class AgentEvalWorkflow:
    """Runs one eval request's scenarios in one activity and returns what it found."""

    @workflow.run
    async def run(self, request: AgentEvalRequest) -> AgentEvalResult:
        """The scenarios' outcomes and figures, or the scenarios that cannot run."""
        result: AgentEvalResult = await workflow.execute_activity(
            RUN_AGENT_EVAL_ACTIVITY,
            request,
            result_type=AgentEvalResult,
            schedule_to_close_timeout=EVAL_TIMEOUT,
            heartbeat_timeout=EVAL_HEARTBEAT,
            retry_policy=EVAL_RETRY,
        )
        return result
