"""The purge activity of `RetentionWorkflow`: calls that ended more than their organization's
`retention_days` ago lose their caller's data (transcript, summary, extracted data, analysis,
phone numbers, webhook payloads) and their Temporal histories.

Temporal first, rows last: a call is picked while it still holds data, so if deleting its
histories fails, the next attempt picks it again.
"""

from __future__ import annotations

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client

from core.calls.erase import delete_executions, webhook_workflows_query
from core.calls.retention import PURGE_EXPIRED_CALLS, PurgeBatch, PurgeResult
from core.db.models import Call, CallTurn, Organization, WebhookDelivery


class RetentionActivities:
    """Built with the database and a Temporal client (to delete histories)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], temporal: Client) -> None:
        self.sessions = sessions
        self.temporal = temporal

    @activity.defn(name=PURGE_EXPIRED_CALLS)
    async def purge_expired_calls(self, batch: PurgeBatch) -> PurgeResult:
        """Purge up to `batch.limit` expired calls that still hold caller data."""
        expired = (
            select(Call.id, Call.workflow_id)
            .join(Organization, Organization.id == Call.organization_id)
            .where(
                Organization.retention_days.is_not(None),
                Call.ended_at.is_not(None),
                Call.ended_at
                < func.now() - func.make_interval(0, 0, 0, Organization.retention_days),
                or_(
                    exists().where(CallTurn.call_id == Call.id),
                    exists().where(
                        WebhookDelivery.call_id == Call.id, WebhookDelivery.payload != {}
                    ),
                    Call.summary.is_not(None),
                    Call.extracted_data != {},
                    Call.analysis != {},
                    Call.from_number != "",
                    Call.to_number != "",
                ),
            )
            .order_by(Call.ended_at)
            .limit(batch.limit)
        )
        async with self.sessions() as session:
            calls = (await session.execute(expired)).all()
            if not calls:
                return PurgeResult()
            ids = [c.id for c in calls]
            webhook_ids = (
                await session.scalars(
                    select(WebhookDelivery.webhook_id).where(WebhookDelivery.call_id.in_(ids))
                )
            ).all()
        histories = await delete_executions(
            self.temporal, [c.workflow_id for c in calls], webhook_workflows_query(webhook_ids)
        )
        activity.heartbeat()
        async with self.sessions() as session:
            await session.execute(delete(CallTurn).where(CallTurn.call_id.in_(ids)))
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.call_id.in_(ids)).values(payload={})
            )
            await session.execute(
                update(Call)
                .where(Call.id.in_(ids))
                .values(
                    summary=None,
                    extracted_data={},
                    analysis={},
                    from_number="",
                    to_number="",
                )
            )
            await session.commit()
        return PurgeResult(calls=len(ids), histories=histories)
