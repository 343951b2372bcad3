"""Sliding-window limits (API requests per key, outbound calls per organization) kept in Redis,
so every API process counts the same hits; in this process's memory when there is no Redis.

Written here rather than taken from `limits`/`slowapi`: their asyncio Redis storage needs a
second Redis client library (coredis), and the whole algorithm is one short Lua script. The
window is a sorted set of hit times: exact (no fixed-window burst at the boundary), and at most
`limit` entries per key.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections import defaultdict, deque
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

KEY_PREFIX: Final = "callwright:limit:"

# KEYS[1] the window; ARGV: now (s), window (s), limit, a unique member. Returns 0 when the hit is
# counted, else the seconds until the oldest hit leaves the window.
_HIT: Final = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(window))
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


class Limiter:
    """Counts hits per name within a window; `hit` says how long to wait when over the limit."""

    def __init__(self, redis: aioredis.Redis | None, *, namespace: str = "") -> None:
        """`namespace` keeps the counts of deployments that share a Redis server apart (the API
        passes its database's identity: ids such as a key's are only unique within one)."""
        self.redis = redis
        self.namespace = namespace
        self._local: defaultdict[str, deque[float]] = defaultdict(deque)

    async def hit(self, name: str, *, limit: int, window_s: float) -> float | None:
        """Count one hit on `name`; None when within `limit` per `window_s`, else the seconds
        until a hit is allowed again (the hit is then not counted)."""
        now = time.time()
        if self.redis is not None:
            try:
                wait = await self.redis.eval(
                    _HIT,
                    1,
                    f"{KEY_PREFIX}{self.namespace}:{name}",
                    now,
                    window_s,
                    limit,
                    f"{now}:{secrets.token_hex(4)}",
                )
                seconds = float(wait)
                return None if seconds <= 0 else seconds
            except RedisError as exc:
                # Counting locally keeps a limit in place while Redis is away (per process).
                logger.warning("rate limits counted in this process only: Redis failed: %s", exc)
        return self._hit_locally(name, now, limit, window_s)

    def _hit_locally(self, name: str, now: float, limit: int, window_s: float) -> float | None:
        hits = self._local[name]
        while hits and hits[0] <= now - window_s:
            hits.popleft()
        if len(hits) < limit:
            hits.append(now)
            return None
        return hits[0] + window_s - now


def retry_after(seconds: float) -> str:
    """A `Retry-After` header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
