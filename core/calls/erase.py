"""Erasing a call everywhere it is kept: its rows (the call, its turns, its webhook deliveries
and their attempts) and its Temporal executions (the call workflow and every webhook delivery
workflow it started, replays included). Used by `DELETE /api/calls/{id}`; retention
(`activities/retention.py`) deletes Temporal histories with `delete_executions` too.

A live call is refused (`CallIsLive`), not terminated: erasing a call while its workflow still
writes turns would leave new rows behind, and ending a caller's conversation is what
`POST /api/calls/{id}/end` is for. Once it has ended, erasing is allowed.

Temporal first, rows last: if Temporal fails midway the rows that name the executions are still
there, so erasing again finishes the job (every step is idempotent).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from core.db.models import Call, WebhookDelivery


class CallIsLive(Exception):
    """The call's workflow is still running: end the call first."""


def webhook_workflows_query(webhook_ids: Iterable[str]) -> str | None:
    """A visibility query for the delivery workflows of these webhooks, replays included
    (`webhook-<id>` and `webhook-<id>-replay-<suffix>`); None when there are none."""
    ids = [w for w in webhook_ids if w]
    if not ids:
        return None
    return " OR ".join(f"WorkflowId STARTS_WITH '{_quoted(f'webhook-{w}')}'" for w in ids)


def _quoted(value: str) -> str:
    # Ids are ours (`call-<CallSid>`, `webhook-<id>`), but a CallSid comes from outside.
    return value.replace("\\", "\\\\").replace("'", "\\'")


async def delete_executions(client: Client, workflow_ids: Iterable[str], query: str | None) -> int:
    """Delete every run of `workflow_ids` and of the workflows `query` lists, running ones too
    (Temporal terminates them first). Returns how many runs were deleted; missing ones count
    as gone."""
    workflow_ids = list(workflow_ids)
    clauses = [f"WorkflowId = '{_quoted(w)}'" for w in workflow_ids]
    if query:
        clauses.append(f"({query})")
    if not clauses:
        return 0
    runs = [
        (execution.id, execution.run_id)
        async for execution in client.list_workflows(" OR ".join(clauses))
    ]
    # Listed runs, and each id's latest run directly: visibility lags behind a just-started run.
    runs += [(w, "") for w in workflow_ids]
    deleted = 0
    for workflow_id, run_id in dict.fromkeys(runs):
        try:
            await client.workflow_service.delete_workflow_execution(
                DeleteWorkflowExecutionRequest(
                    namespace=client.namespace,
                    workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
                )
            )
            deleted += 1
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
    return deleted


async def _is_running(client: Client, workflow_id: str) -> bool:
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return described.status == WorkflowExecutionStatus.RUNNING


async def erase_call(
    session: AsyncSession, temporal: Client, *, call_id: uuid.UUID, organization_id: int
) -> bool:
    """Erase the organization's call `call_id` everywhere; False when it has no such call.
    Raises `CallIsLive` while its workflow runs."""
    call = await session.scalar(
        select(Call).where(Call.id == call_id, Call.organization_id == organization_id)
    )
    if call is None:
        return False
    if await _is_running(temporal, call.workflow_id):
        raise CallIsLive(f"call {call.call_sid} is live: end it before erasing it")
    webhook_ids = (
        await session.scalars(
            select(WebhookDelivery.webhook_id).where(WebhookDelivery.call_id == call.id)
        )
    ).all()
    await delete_executions(temporal, [call.workflow_id], webhook_workflows_query(webhook_ids))
    # Attempts go with their deliveries and turns with their call (ON DELETE CASCADE).
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.call_id == call.id))
    await session.execute(delete(Call).where(Call.id == call.id))
    await session.commit()
    return True
