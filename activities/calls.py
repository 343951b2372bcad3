"""Activities that keep a call's record in PostgreSQL: the call row and its transcript.

Every value is cleaned before it is written (`core.calls.cleaning`), and an error that no retry
can fix — PostgreSQL refusing a value (SQLSTATE class 22, data exception) — is raised as a
non-retryable `UnstorableValue`, so the workflow goes on without that write instead of retrying
it forever. Everything else (the database is down, a deadlock) is retried by Temporal.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.calls.activities import (
    RECORD_CALL_ENDED,
    RECORD_CALL_STARTED,
    RECORD_TURNS,
    CallFinished,
    CallStarted,
    TurnsToRecord,
)
from core.calls.cleaning import clean_json, clean_number, clean_reason, clean_text
from core.calls.redaction import Redactor
from core.db.models import AgentConfig, Call, CallTurn

UNSTORABLE = "UnstorableValue"
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _refused_values_are_final(
    write: Callable[_P, Awaitable[_R]],
) -> Callable[_P, Awaitable[_R]]:
    """Turn PostgreSQL's "data exception" errors into a non-retryable `UnstorableValue`."""

    @functools.wraps(write)
    async def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await write(*args, **kwargs)
        except DBAPIError as exc:
            sqlstate = getattr(exc.orig, "sqlstate", None) or ""
            if sqlstate.startswith("22"):
                # Not PostgreSQL's own text: it can quote the value, a caller's words.
                raise ApplicationError(
                    f"PostgreSQL refused a value (SQLSTATE {sqlstate})",
                    type=UNSTORABLE,
                    non_retryable=True,
                ) from exc
            raise

    return guarded


def _call_row(started: CallStarted) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "call_sid": started.call_sid,
        "workflow_id": started.workflow_id,
        "agent_id": started.agent_id,
        # The snapshot names the organization; a call from a history older than organizations
        # takes its agent's.
        "organization_id": started.agent_snapshot.get("organization_id")
        or select(AgentConfig.organization_id)
        .where(AgentConfig.id == started.agent_id)
        .scalar_subquery(),
        "direction": started.direction.value,
        "from_number": clean_number(started.from_number),
        "to_number": clean_number(started.to_number),
        "status": "in_progress",
        "agent_snapshot": clean_json(started.agent_snapshot),
        "extracted_data": {},
        "analysis": {},
    }


class CallRecordActivities:
    """Writes calls and turns; every write is idempotent, since Temporal may retry it."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, redactor: Redactor | None = None
    ) -> None:
        self.sessions = sessions
        # Card numbers (and REDACT_PATTERNS) never reach the stored transcript, summary or data.
        self.redact = redactor or Redactor()

    @activity.defn(name=RECORD_CALL_STARTED)
    @_refused_values_are_final
    async def record_call_started(self, started: CallStarted) -> str:
        """Create the call's row (once, whatever the retries) and return its id."""
        async with self.sessions() as session:
            await session.execute(
                insert(Call)
                .values(**_call_row(started))
                .on_conflict_do_nothing(index_elements=["call_sid"])
            )
            await session.commit()
            call_id = await session.scalar(select(Call.id).where(Call.call_sid == started.call_sid))
        return str(call_id)

    @activity.defn(name=RECORD_TURNS)
    @_refused_values_are_final
    async def record_turns(self, batch: TurnsToRecord) -> int:
        """Store turns; a `seq` already stored is skipped. Returns how many were new."""
        async with self.sessions() as session:
            call_id = await session.scalar(select(Call.id).where(Call.call_sid == batch.call_sid))
            if call_id is None:
                # The start was refused: the turns are kept in the workflow and its webhook.
                raise ApplicationError(
                    f"call {batch.call_sid} has no row", type=UNSTORABLE, non_retryable=True
                )
            result = await session.execute(
                insert(CallTurn)
                .values(
                    [
                        {
                            "call_id": call_id,
                            "seq": turn.seq,
                            "speaker": turn.speaker.value,
                            "text": self.redact.text(clean_text(turn.text)),
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
    @_refused_values_are_final
    async def record_call_ended(self, finished: CallFinished) -> None:
        """Close the call's row with its outcome and analysis (creating it if it is missing)."""
        analysis = finished.analysis
        async with self.sessions() as session:
            if finished.started is not None:
                await session.execute(
                    insert(Call)
                    .values(**_call_row(finished.started))
                    .on_conflict_do_nothing(index_elements=["call_sid"])
                )
            await session.execute(
                update(Call)
                .where(Call.call_sid == finished.call_sid)
                .values(
                    status="completed",
                    outcome=clean_reason(finished.outcome),
                    end_reason=clean_reason(finished.end_reason),
                    summary=self.redact.text(clean_text(analysis.summary)),
                    extracted_data=self.redact.json(clean_json(analysis.extracted)),
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
