"""The realtime node registry and admission, against the real Redis the suite starts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from core.calls.nodes import Admission, NodeRegistry
from tests.conftest import forget_nodes
from tests.tcp_proxy import tcp_proxy
from workers.services import EmbeddedRedis


@pytest.fixture
async def redis(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    # The server is the session's: start clean, and leave no node for the next test to find.
    client = aioredis.Redis.from_url(redis_server.url)
    await forget_nodes(redis_server.url)
    yield client
    await forget_nodes(redis_server.url)
    await client.aclose()


async def node(
    redis: aioredis.Redis, node_id: str, capacity: int, *, ttl_s: float = 6.0
) -> NodeRegistry:
    registry = NodeRegistry(
        redis, node_id=node_id, media_url=f"ws://{node_id}/twilio/media", capacity=capacity,
        ttl_s=ttl_s,
    )  # fmt: skip
    await registry.heartbeat()
    return registry


async def test_two_calls_at_once_for_the_last_slot_get_it_once(redis: aioredis.Redis) -> None:
    await node(redis, "a", 1)
    admission = Admission(redis)
    first, second = await asyncio.gather(admission.reserve("CA1"), admission.reserve("CA2"))
    assert sorted([first is None, second is None]) == [False, True]
    assert (await admission.nodes())[0].calls == 1


async def test_many_calls_at_once_never_overfill_a_node(
    redis: aioredis.Redis, redis_server: EmbeddedRedis
) -> None:
    await node(redis, "a", 2)
    await node(redis, "b", 3)
    apis = [aioredis.Redis.from_url(redis_server.url) for _ in range(4)]  # four API processes
    try:
        chosen = await asyncio.gather(
            *(Admission(apis[i % 4]).reserve(f"CA{i}") for i in range(20))
        )
    finally:
        for api in apis:
            await api.aclose()
    placed = [n.node_id for n in chosen if n is not None]
    assert sorted(placed) == ["a", "a", "b", "b", "b"]
    assert [(n.node_id, n.calls) for n in await Admission(redis).nodes()] == [("a", 2), ("b", 3)]


async def test_the_node_with_most_room_is_chosen_and_exclusions_hold(
    redis: aioredis.Redis,
) -> None:
    await node(redis, "a", 2)
    await node(redis, "b", 3)
    admission = Admission(redis)
    assert (chosen := await admission.reserve("CA1")) is not None and chosen.node_id == "b"
    assert chosen.media_url == "ws://b/twilio/media" and chosen.calls == 1
    assert (tie := await admission.reserve("CA2")) is not None and tie.node_id == "a"
    assert (again := await admission.reserve("CA1")) is not None and again.node_id == "b"
    assert again.calls == 1  # Twilio retried the webhook: the same slot, not a second one
    other = await admission.reserve("CA3", exclude={"b"})
    assert other is not None and other.node_id == "a"
    assert await admission.reserve("CA4", exclude={"b"}) is None  # a is full now


async def test_draining_and_dead_nodes_take_no_calls(redis: aioredis.Redis) -> None:
    draining = await node(redis, "a", 5)
    await draining.heartbeat(draining=True)
    await node(redis, "b", 5, ttl_s=0.2)
    admission = Admission(redis)
    await asyncio.sleep(0.4)  # b stopped heartbeating: crashed
    assert await admission.reserve("CA1") is None
    assert [n.node_id for n in await admission.nodes()] == ["a"]
    assert (await admission.nodes())[0].draining
    assert await redis.sismember("callwright:nodes", "b") == 0  # cleaned up


async def test_reservations_expire_unless_held_and_release_frees_the_slot(
    redis: aioredis.Redis,
) -> None:
    registry = await node(redis, "a", 1)
    short = Admission(redis, reservation_ttl_s=0.2)
    assert await short.reserve("CA1") is not None
    assert await short.reserve("CA2") is None
    await asyncio.sleep(0.3)  # CA1's stream never came
    assert await short.reserve("CA2") is not None
    await registry.hold("CA2")
    await asyncio.sleep(0.3)
    await registry.heartbeat()  # a held call is kept alive by the heartbeat
    assert await short.reserve("CA3") is None
    await registry.release("CA2")
    assert await short.reserve("CA3") is not None
    await registry.leave()
    assert await Admission(redis).nodes() == []


async def test_the_heartbeat_outlives_a_redis_outage_and_the_node_rejoins(
    redis: aioredis.Redis, redis_server: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    admission = Admission(redis)
    port = urlsplit(redis_server.url).port
    assert port is not None
    async with tcp_proxy("127.0.0.1", port) as proxy:
        through = aioredis.Redis(
            port=proxy.port, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )  # the node reaches Redis through a line the test can cut
        registry = NodeRegistry(
            through, node_id="a", media_url="ws://a/twilio/media", capacity=1, ttl_s=0.3
        )
        beating = asyncio.create_task(registry.run(interval_s=0.05))
        try:
            await asyncio.sleep(0.2)
            assert [n.node_id for n in await admission.nodes()] == ["a"]
            caplog.set_level(logging.INFO, logger="core.calls.nodes")
            proxy.cut()
            await asyncio.sleep(0.6)  # several failed heartbeats; the entry expired
            assert not beating.done()
            assert await admission.nodes() == []
            assert await admission.reserve("CA1") is None  # a node nobody hears from gets no call
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1  # once per outage, not once per heartbeat
            proxy.restore()
            await asyncio.sleep(0.3)
            assert [n.node_id for n in await admission.nodes()] == ["a"]
            assert any("back in the registry" in r.getMessage() for r in caplog.records)
        finally:
            beating.cancel()
            with pytest.raises(asyncio.CancelledError):
                await beating
            await through.aclose()
