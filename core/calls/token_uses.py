"""Each call token starts one media stream, once.

A call token (`core.calls.tokens`) is valid for two minutes; without this, anyone holding one
(a copy of the TwiML, a log) could open any number of streams for the call in that time. The
realtime server claims a token when a stream's `start` presents it: the first claim wins, every
later one is refused. Claims are kept in Redis (`SET NX` with an expiry at least as long as a
token lives, so the fleet agrees), under a SHA-256 of the token, never the token itself.

The resume path is not affected: `/twilio/continue` issues a fresh token (each carries a `jti`
of its own) for the stream that picks the call up.

Without Redis (a single node), or while Redis does not answer, the node keeps its claims in
memory: a token is then single-use on this node, which is all a one-node install has.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.calls.tokens import TOKEN_LIFETIME

__all__ = ["TokenUses"]

logger = logging.getLogger(__name__)

KEY_PREFIX: Final = "callwright:token-used:"
# A claim outlives the token it names (tokens are refused past their expiry anyway).
CLAIM_TTL_S: Final = TOKEN_LIFETIME.total_seconds() + 60.0


class TokenUses:
    """The tokens that have started a stream (see the module docstring)."""

    def __init__(self, redis: Redis | None, *, ttl_s: float = CLAIM_TTL_S) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._local: dict[str, float] = {}

    async def claim(self, token: str) -> bool:
        """True the first time `token` is claimed (fleet-wide with Redis), False ever after."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        if self.redis is not None:
            try:
                first = await self.redis.set(
                    KEY_PREFIX + digest, b"1", nx=True, px=int(self.ttl_s * 1000)
                )
                return bool(first) and self._claim_locally(digest)
            except RedisError as exc:
                logger.warning("token claims: Redis did not answer (%s); claimed on this node", exc)
        return self._claim_locally(digest)

    def _claim_locally(self, digest: str) -> bool:
        now = time.monotonic()
        if len(self._local) > 1024:
            self._local = {key: until for key, until in self._local.items() if until > now}
        until = self._local.get(digest)
        if until is not None and until > now:
            return False
        self._local[digest] = now + self.ttl_s
        return True
