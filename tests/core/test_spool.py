"""The signal spool, against the real Redis the suite starts."""

from __future__ import annotations

import redis.asyncio as aioredis

from core.calls.spool import SignalSpool
from workers.services import EmbeddedRedis


async def test_events_left_by_one_process_are_found_in_order_by_the_next(
    redis_server: EmbeddedRedis,
) -> None:
    redis_url = redis_server.url
    first = aioredis.Redis.from_url(redis_url)
    spool = SignalSpool(first, "CAspool1")
    await spool.clear()
    one = await spool.append("turn_completed", {"seq": 1, "text": "Hi\x00 there, ¿qué tal? 👍"})
    two, three = await spool.append_many(
        [("field_captured", {"name": "date"}), ("turn_completed", {"seq": 2, "text": "x"})]
    )
    await spool.ack(two)
    assert 0 < await first.pttl(spool.key) <= 86_400_000
    await first.aclose()  # the process is gone

    second = aioredis.Redis.from_url(redis_url)
    left = await SignalSpool(second, "CAspool1").pending()
    assert [(e.entry_id, e.name) for e in left] == [
        (one, "turn_completed"),
        (three, "turn_completed"),
    ]
    assert left[0].payload["text"] == "Hi\x00 there, ¿qué tal? 👍"
    await SignalSpool(second, "CAspool1").clear()
    assert await SignalSpool(second, "CAspool1").pending() == []
    assert await SignalSpool(second, "CAspool1").append_many([]) == []
    await second.aclose()
