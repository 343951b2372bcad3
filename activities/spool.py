"""The worker's side of the signal spool: a call whose realtime process died, and that no other
process resumed (the caller hung up in the gap), still gets every turn and field that process
had spooled but not sent. The workflow collects them before it analyses the call."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from temporalio import activity

from core.calls.activities import COLLECT_SPOOLED
from core.calls.spool import SignalSpool
from core.calls.types import FieldEvent, SpooledSignals, TurnEvent, decode_signal

logger = logging.getLogger(__name__)


class SpoolActivities:
    """Built with the Redis the realtime processes spool to (None: nothing is ever spooled)."""

    def __init__(self, redis: Redis | None) -> None:
        self.redis = redis

    @activity.defn(name=COLLECT_SPOOLED)
    async def collect_spooled(self, call_sid: str) -> SpooledSignals:
        """The turns and fields left in the call's spool, which is then emptied (the result is
        in the workflow's history from here on: nothing is lost if the workflow retries)."""
        found = SpooledSignals()
        if self.redis is None:
            return found
        spool = SignalSpool(self.redis, call_sid)
        for entry in await spool.pending():
            try:
                payload = decode_signal(entry.name, entry.payload)
            except (KeyError, ValueError) as exc:
                logger.warning("call %s: unreadable spooled %s: %s", call_sid, entry.name, exc)
                continue
            if isinstance(payload, TurnEvent):
                found.turns.append(payload)
            elif isinstance(payload, FieldEvent):
                found.fields.append(payload)
        await spool.clear()
        if found.turns or found.fields:
            logger.info(
                "call %s: collected %d turns and %d fields its realtime process left unsent",
                call_sid,
                len(found.turns),
                len(found.fields),
            )
        return found
