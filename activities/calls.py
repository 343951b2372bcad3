"""Activities that keep a call's record in PostgreSQL: the call row and its transcript."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.calls.activities import (
    RECORD_CALL_ENDED,
    RECORD_CALL_STARTED,
    RECORD_TURNS,
    CallFinished,
    CallStarted,
    TurnsToRecord,
)
from core.db.models import Call, CallTurn


class CallRecordActivities:
    """Writes calls and turns; every write is idempotent, since Temporal may retry it."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name=RECORD_CALL_STARTED)
    async def record_call_started(self, started: CallStarted) -> str:
        """Create the call's row (once, whatever the retries) and return its id."""
        async with self.sessions() as session:
            await session.execute(
                insert(Call)
                .values(
                    id=uuid.uuid4(),
                    call_sid=started.call_sid,
                    workflow_id=started.workflow_id,
                    agent_id=started.agent_id,
                    direction=started.direction.value,
                    from_number=started.from_number,
                    to_number=started.to_number,
                    status="in_progress",
                    agent_snapshot=started.agent_snapshot,
                    extracted_data={},
                    analysis={},
                )
                .on_conflict_do_nothing(index_elements=["call_sid"])
            )
            await session.commit()
            call_id = await session.scalar(select(Call.id).where(Call.call_sid == started.call_sid))
        return str(call_id)

    @activity.defn(name=RECORD_TURNS)
    async def record_turns(self, batch: TurnsToRecord) -> int:
        """Store turns; a `seq` already stored is skipped. Returns how many were new."""
        async with self.sessions() as session:
            call_id = await session.scalar(select(Call.id).where(Call.call_sid == batch.call_sid))
            if call_id is None:
                raise RuntimeError(f"call {batch.call_sid} has no row yet")
            result = await session.execute(
                insert(CallTurn)
                .values(
                    [
                        {
                            "call_id": call_id,
                            "seq": turn.seq,
                            "speaker": turn.speaker.value,
                            "text": turn.text,
                            "interrupted": turn.interrupted,
                            "latency": dict(turn.latency_ms),
                        }
                        for turn in batch.turns
                    ]
                )
                .on_conflict_do_nothing(index_elements=["call_id", "seq"])
                .returning(CallTurn.id)
            )
            inserted = len(result.all())
            await session.commit()
        return inserted

    @activity.defn(name=RECORD_CALL_ENDED)
    async def record_call_ended(self, finished: CallFinished) -> None:
        """Close the call's row with its outcome and analysis."""
        analysis = finished.analysis
        async with self.sessions() as session:
            await session.execute(
                update(Call)
                .where(Call.call_sid == finished.call_sid)
                .values(
                    status="completed",
                    outcome=finished.outcome,
                    end_reason=finished.end_reason,
                    summary=analysis.summary,
                    extracted_data=analysis.extracted,
                    analysis={
                        "method": analysis.method,
                        "goals": [
                            {
                                "name": g.name,
                                "success": g.success,
                                "missing_fields": g.missing_fields,
                            }
                            for g in analysis.goals
                        ],
                    },
                    ended_at=func.now(),
                )
            )
            await session.commit()
