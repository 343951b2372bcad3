"""Realtime nodes and admission: which process takes a call's audio, and whether any has room.

Each realtime process (a node) registers in Redis: its media URL, its capacity, whether it is
draining, kept alive by a heartbeat (`NodeRegistry.run`); a node that stops heartbeating (it
crashed) drops out when its key expires. The calls on a node — reserved by the API when it
answers Twilio, then held by the node while the stream is live — are one sorted set per node,
each member's score its expiry time: a reservation whose stream never came, or a call whose node
died, stops counting on its own.

`Admission.reserve` is one Lua script, so two calls ringing at once can never both take a
node's last slot. Times are Redis's own clock (`TIME` inside the scripts), so nodes and APIs on
different hosts agree on what has expired. A script may write after `TIME` only under effects
replication, the default from Redis 5 and the only mode in 7; `ZADD ... GT` needs 6.2. The
embedded server is 6.2, production's 7. The scripts touch keys they compute from node ids, which
is fine on one Redis server (not on a Redis Cluster).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

NODES_KEY: Final = "callwright:nodes"
NO_CAPACITY: Final = "no_capacity"
"""The end reason of a call no node had room for: `/twilio/continue` answers it with "busy"."""
NODE_PREFIX: Final = "callwright:node:"

# Every script starts with the server's time in milliseconds.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: node hash, its calls, the node set. ARGV: id, media url, capacity, draining (0/1),
# ttl ms, call ttl ms, then the calls the node holds.
_HEARTBEAT = (
    _NOW
    + """
redis.call('HSET', KEYS[1], 'media_url', ARGV[2], 'capacity', ARGV[3], 'draining', ARGV[4])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
redis.call('SADD', KEYS[3], ARGV[1])
for i = 7, #ARGV do
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[6]) + tonumber(ARGV[5]))
return now
"""
)

# KEYS: the node's calls. ARGV: call sid, ttl ms.
_HOLD = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return now
"""
)

# KEYS: the node set. ARGV: call sid, reservation ttl ms, then node ids to leave out.
# Returns {id, media url, capacity, calls, draining} or nil.
_RESERVE = (
    _NOW
    + """
local call, ttl = ARGV[1], tonumber(ARGV[2])
local excluded = {}
for i = 3, #ARGV do excluded[ARGV[i]] = true end
local ids = redis.call('SMEMBERS', KEYS[1])
table.sort(ids)
local best, best_free, best_info = nil, 0, nil
for _, id in ipairs(ids) do
  local key = 'callwright:node:' .. id
  local info = redis.call('HMGET', key, 'media_url', 'capacity', 'draining')
  if not info[1] then
    redis.call('SREM', KEYS[1], id)
    redis.call('DEL', key .. ':calls')
  elseif not excluded[id] and info[3] ~= '1' then
    local calls = key .. ':calls'
    redis.call('ZREMRANGEBYSCORE', calls, '-inf', now)
    if redis.call('ZSCORE', calls, call) then
      redis.call('ZADD', calls, 'GT', now + ttl, call)
      return {id, info[1], info[2], redis.call('ZCARD', calls), info[3]}
    end
    local free = tonumber(info[2]) - redis.call('ZCARD', calls)
    if free > best_free then
      best, best_free, best_info = id, free, info
    end
  end
end
if best == nil then return nil end
local calls = 'callwright:node:' .. best .. ':calls'
redis.call('ZADD', calls, now + ttl, call)
return {best, best_info[1], best_info[2], redis.call('ZCARD', calls), best_info[3]}
"""
)

# KEYS: the node set. Returns, per live node, {id, media url, capacity, calls, draining}.
_NODES = (
    _NOW
    + """
local found = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = 'callwright:node:' .. id
  local info = redis.call('HMGET', key, 'media_url', 'capacity', 'draining')
  if info[1] then
    local calls = redis.call('ZCOUNT', key .. ':calls', now, '+inf')
    table.insert(found, {id, info[1], info[2], calls, info[3]})
  end
end
return found
"""
)


@dataclass(frozen=True)
class NodeInfo:
    """A realtime node as the registry knows it."""

    node_id: str
    media_url: str
    capacity: int
    calls: int
    """Calls reserved for it or live on it (unexpired)."""
    draining: bool


def _node_key(node_id: str) -> str:
    return f"{NODE_PREFIX}{node_id}"


def _calls_key(node_id: str) -> str:
    return f"{NODE_PREFIX}{node_id}:calls"


def _info(row: list[Any]) -> NodeInfo:
    node_id, media_url, capacity, calls, draining = (
        v.decode() if isinstance(v, bytes) else v for v in row
    )
    return NodeInfo(str(node_id), str(media_url), int(capacity), int(calls), draining == "1")


class NodeRegistry:
    """One realtime process's entry in the registry."""

    def __init__(
        self,
        redis: Redis,
        *,
        node_id: str,
        media_url: str,
        capacity: int,
        ttl_s: float = 6.0,
        call_ttl_s: float = 30.0,
    ) -> None:
        self.redis = redis
        self.node_id = node_id
        self.media_url = media_url
        self.capacity = capacity
        self.ttl_ms = int(ttl_s * 1000)
        self.call_ttl_ms = int(call_ttl_s * 1000)
        self.held: set[str] = set()
        # A heartbeat re-adds every held call; one in flight when a call is released would
        # bring the call back for `call_ttl_s` after its ZREM. Releases wait for it.
        self._writing = asyncio.Lock()
        self._heartbeat = redis.register_script(_HEARTBEAT)
        self._hold = redis.register_script(_HOLD)

    async def heartbeat(self, *, draining: bool = False) -> None:
        """(Re)write the node's entry, alive for `ttl_s`, and keep its calls counted."""
        async with self._writing:
            await self._heartbeat(
                keys=[_node_key(self.node_id), _calls_key(self.node_id), NODES_KEY],
                args=[
                    self.node_id,
                    self.media_url,
                    self.capacity,
                    "1" if draining else "0",
                    self.ttl_ms,
                    self.call_ttl_ms,
                    *sorted(self.held),
                ],
            )

    async def hold(self, call_sid: str) -> None:
        """The call's stream is live here (its reservation, if any, becomes the live entry)."""
        self.held.add(call_sid)
        await self._hold(keys=[_calls_key(self.node_id)], args=[call_sid, self.call_ttl_ms])

    async def release(self, call_sid: str) -> None:
        """The call's stream ended here: its slot is free."""
        self.held.discard(call_sid)
        async with self._writing:
            await self.redis.zrem(_calls_key(self.node_id), call_sid)

    async def leave(self) -> None:
        """Remove the node (a clean shutdown); a crashed node's entry simply expires."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(NODES_KEY, self.node_id)
            pipe.delete(_node_key(self.node_id), _calls_key(self.node_id))
            await pipe.execute()

    async def run(
        self, interval_s: float = 2.0, draining: Callable[[], bool] = lambda: False
    ) -> None:
        """Heartbeat every `interval_s` until cancelled. A Redis outage is logged once and
        outlived: the node keeps serving its calls, and rejoins when Redis is back."""
        down = False
        while True:
            try:
                # A heartbeat slower than the TTL keeps nothing alive: count it as an outage
                # rather than let a hung connection stop the loop.
                async with asyncio.timeout(self.ttl_ms / 1000):
                    await self.heartbeat(draining=draining())
                if down:
                    logger.info("node %s: back in the registry", self.node_id)
                down = False
            except (RedisError, OSError, TimeoutError) as exc:
                if not down:
                    logger.warning("node %s: registry unreachable (%r)", self.node_id, exc)
                down = True
            await asyncio.sleep(interval_s)


class Admission:
    """The API's side: which node takes a call."""

    def __init__(self, redis: Redis, *, reservation_ttl_s: float = 30.0) -> None:
        self.redis = redis
        self.reservation_ttl_ms = int(reservation_ttl_s * 1000)
        self._reserve = redis.register_script(_RESERVE)
        self._nodes = redis.register_script(_NODES)

    async def nodes(self) -> list[NodeInfo]:
        """The live nodes, by id."""
        rows = await self._nodes(keys=[NODES_KEY], args=[])
        return sorted((_info(row) for row in rows), key=lambda n: n.node_id)

    async def reserve(self, call_sid: str, *, exclude: Collection[str] = ()) -> NodeInfo | None:
        """A slot for `call_sid` on the live, non-draining node with the most room (not one in
        `exclude`); the node it already has one on, if any; None when every node is full."""
        row = await self._reserve(
            keys=[NODES_KEY], args=[call_sid, self.reservation_ttl_ms, *sorted(exclude)]
        )
        return None if row is None else _info(row)


CALL_OVER_PREFIX: Final = "callwright:call-over:"
CALL_OVER_TTL_S: Final = 3600


async def mark_call_over(redis: Redis, call_sid: str, reason: str) -> None:
    """The node that ended a call (the agent said goodbye) says so before it closes the stream,
    so that `/twilio/continue` hangs up even while no worker answers the workflow's query."""
    await redis.set(f"{CALL_OVER_PREFIX}{call_sid}", reason, ex=CALL_OVER_TTL_S)


async def call_over(redis: Redis, call_sid: str) -> str | None:
    """Why a node ended the call, if one did."""
    reason = await redis.get(f"{CALL_OVER_PREFIX}{call_sid}")
    if reason is None:
        return None
    return reason.decode() if isinstance(reason, bytes) else str(reason)
