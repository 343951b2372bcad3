"""Signals that outlive the realtime process: a call's unsent events, spooled in Redis.

Each turn or field event a realtime process means to send to the call's workflow is first
appended to a Redis stream of the call's own (`callwright:spool:<CallSid>`), and deleted once
Temporal has acknowledged it. If the process dies in between, the node that resumes the call
sends what is left (`pending`), or the workflow collects it at the end. The workflow applies each
event once (turns by `seq`, fields by `event_id`), so an event sent twice does no harm.

A stream rather than a list: entries keep their order and an id each, so one can be removed
when it is acknowledged whatever was appended after it. The key expires a day after its last
write: a spool nobody ever reads does not stay forever.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from redis.asyncio import Redis

KEY_PREFIX: Final = "callwright:spool:"
FIELD: Final = "signal"


@dataclass(frozen=True)
class Spooled:
    """One spooled event: its stream entry id, the signal's name and its payload."""

    entry_id: str
    name: str
    payload: dict[str, Any]


class SignalSpool:
    """One call's spool."""

    def __init__(self, redis: Redis, call_sid: str, *, ttl_s: float = 86400.0) -> None:
        self.redis = redis
        self.key = f"{KEY_PREFIX}{call_sid}"
        self.ttl_ms = int(ttl_s * 1000)

    async def append(self, name: str, payload: dict[str, Any]) -> str:
        """Spool one event; returns its entry id."""
        (entry,) = await self.append_many([(name, payload)])
        return entry

    async def append_many(self, items: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
        """Spool events in order, in one round trip; returns their entry ids."""
        if not items:
            return []
        async with self.redis.pipeline(transaction=True) as pipe:
            for name, payload in items:
                pipe.xadd(self.key, {FIELD: json.dumps({"name": name, "payload": payload})})
            pipe.pexpire(self.key, self.ttl_ms)
            results = await pipe.execute()
        return [_text(entry) for entry in results[: len(items)]]

    async def ack(self, entry_id: str) -> None:
        """Temporal has the event: it leaves the spool."""
        await self.redis.xdel(self.key, entry_id)

    async def pending(self) -> list[Spooled]:
        """Every event still spooled, oldest first."""
        found: list[Spooled] = []
        for entry_id, fields in await self.redis.xrange(self.key) or []:
            raw = (fields or {}).get(FIELD.encode()) or (fields or {}).get(FIELD)
            if raw is None or entry_id is None:
                continue
            item = json.loads(_text(raw))
            found.append(Spooled(_text(entry_id), str(item["name"]), dict(item["payload"])))
        return found

    async def clear(self) -> None:
        """Forget the whole spool."""
        await self.redis.delete(self.key)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
