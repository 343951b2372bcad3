"""Caches in Redis (REDIS_URL) that the platform can do without.

What is cached is always something the caller can compute again (a compiled agent, a query's
embedding, a retrieval's results), under a key that names the versions it was computed from, so
nothing is ever invalidated by hand: a change moves a version (migration 0009) and the next
lookup misses. With Redis away, every lookup misses and every store is skipped: the platform
works, slower. The first failure logs one line that the cache is off; for `RETRY_AFTER_S` no
request is tried (a dead Redis must not add its timeout to every turn); the first success after
that logs that it is on again.

Keys are `callwright:cache:<namespace>:<kind>:<key>`: the namespace is the database's identity,
because the ids in keys mean something only in one database (tests and deployments may share a
Redis server).
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

KEY_PREFIX: Final = "callwright:cache:"
RETRY_AFTER_S: Final = 30.0
# A cache lookup that takes longer than computing the value is worse than none.
TIMEOUT_S: Final = 0.25
DEFAULT_TTL_S: Final = 24 * 3600


def namespace_for(database_url: str) -> str:
    """A short, stable name for a database (its URL without the password, hashed)."""
    return hashlib.sha256(database_url.encode()).hexdigest()[:12]


def digest(text: str) -> str:
    """A fixed-length key part for free text (a caller's question)."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Cache:
    """Get and set bytes by key; a miss, never an error, when Redis is away."""

    def __init__(self, redis: aioredis.Redis | None, *, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace
        self._off_until = 0.0
        self._off = False
        self.hits = 0
        self.misses = 0

    @classmethod
    def from_url(cls, redis_url: str | None, *, namespace: str) -> Cache:
        """A cache on its own Redis client with short timeouts (None: no cache at all)."""
        if not redis_url:
            return cls(None, namespace=namespace)
        client = aioredis.Redis.from_url(
            redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
        )
        return cls(client, namespace=namespace)

    @property
    def on(self) -> bool:
        """Whether lookups go to Redis now."""
        return self.redis is not None and time.monotonic() >= self._off_until

    async def get(self, kind: str, key: str) -> bytes | None:
        """The value stored under `kind`/`key`, or None."""
        if not self.on:
            self.misses += 1
            return None
        assert self.redis is not None
        try:
            found = await self.redis.get(self._key(kind, key))
            value = found.encode() if isinstance(found, str) else found
        except (RedisError, OSError) as exc:
            self._failed(exc)
            value = None
        else:
            self._worked()
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    async def set(self, kind: str, key: str, value: bytes, *, ttl_s: int = DEFAULT_TTL_S) -> None:
        """Store `value` for `ttl_s` seconds (skipped while the cache is off)."""
        if not self.on:
            return
        assert self.redis is not None
        try:
            await self.redis.set(self._key(kind, key), value, ex=ttl_s)
        except (RedisError, OSError) as exc:
            self._failed(exc)
        else:
            self._worked()

    async def close(self) -> None:
        """Close the Redis client."""
        if self.redis is not None:
            await self.redis.aclose()

    def _key(self, kind: str, key: str) -> str:
        return f"{KEY_PREFIX}{self.namespace}:{kind}:{key}"

    def _failed(self, exc: BaseException) -> None:
        self._off_until = time.monotonic() + RETRY_AFTER_S
        if not self._off:
            self._off = True
            logger.warning(
                "cache off: Redis failed (%s); working without it, trying again every %.0f s",
                type(exc).__name__,
                RETRY_AFTER_S,
            )

    def _worked(self) -> None:
        if self._off:
            self._off = False
            logger.info("cache on again: Redis answers")
