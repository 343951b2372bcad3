"""Admin API keys. A key is shown once, when created; only its SHA-256 is stored.

SHA-256 (not a slow password hash) is the right tool here: keys are 32 random bytes, so there is
nothing to brute-force, and every API request must verify one quickly.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import ApiKey
from core.errors import ConflictError

KEY_PREFIX = "cw_"
LAST_USED_EVERY = timedelta(minutes=1)


def hash_api_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def generate_api_key() -> str:
    """A new random key: `cw_` and 43 URL-safe characters."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create_api_key(session: AsyncSession, *, name: str) -> str:
    """Store a new key under a unique name and return its plaintext (the only time it exists)."""
    if await session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise ConflictError(f"an API key named {name!r} already exists", field="name")
    key = generate_api_key()
    session.add(ApiKey(name=name, prefix=key[:10], key_hash=hash_api_key(key)))
    await session.commit()
    return key


async def authenticate(session: AsyncSession, key: str) -> ApiKey | None:
    """The active key row matching `key`, with its last use recorded; None if unknown/revoked."""
    row = await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_api_key(key), ApiKey.revoked_at.is_(None))
    )
    now = datetime.now(UTC)
    # Recording every use would make each request a write; once a minute tells an admin enough.
    if row is not None and (row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY):
        await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        await session.commit()
    return row
