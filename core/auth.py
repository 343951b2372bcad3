"""API keys. A key is shown once, when created; only its SHA-256 is stored. Each key belongs to
one organization, carries scopes (what it may do there) and may expire.

SHA-256 (not a slow password hash) is the right tool here: keys are 32 random bytes, so there is
nothing to brute-force, and every API request must verify one quickly.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import ApiKey
from core.errors import ConflictError
from core.organizations import default_organization

KEY_PREFIX = "cw_"
LAST_USED_EVERY = timedelta(minutes=1)


class Scope(StrEnum):
    """What a key may do within its organization. Reads need `read` (or the write scope of the
    resource); `admin` may do everything, keys, organization settings and the audit log included."""

    READ = "read"
    AGENTS_WRITE = "agents:write"
    CALLS_WRITE = "calls:write"
    WEBHOOKS_WRITE = "webhooks:write"
    ADMIN = "admin"


def allows(granted: Iterable[str], needed: Scope, *, write_scope: Scope | None = None) -> bool:
    """Whether a key with `granted` scopes may do something that needs `needed`. A resource's
    write scope also lets its holder read that resource (`write_scope`), as Stripe's restricted
    keys do; `admin` allows everything."""
    held = set(granted)
    if Scope.ADMIN in held or needed in held:
        return True
    return needed is Scope.READ and write_scope is not None and write_scope in held


def hash_api_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def generate_api_key() -> str:
    """A new random key: `cw_` and 43 URL-safe characters."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create_api_key(
    session: AsyncSession,
    *,
    name: str,
    organization_id: int | None = None,
    scopes: Iterable[Scope] = (Scope.ADMIN,),
    expires_at: datetime | None = None,
) -> str:
    """Store a new key under a name unique in its organization (the default organization when
    None) and return its plaintext (the only time it exists)."""
    if organization_id is None:
        organization_id = (await default_organization(session)).id
    taken = await session.scalar(
        select(ApiKey.id).where(ApiKey.organization_id == organization_id, ApiKey.name == name)
    )
    if taken is not None:
        raise ConflictError(f"an API key named {name!r} already exists", field="name")
    key = generate_api_key()
    session.add(
        ApiKey(
            organization_id=organization_id,
            name=name,
            prefix=key[:10],
            key_hash=hash_api_key(key),
            scopes=sorted({Scope(s).value for s in scopes}),
            expires_at=expires_at,
        )
    )
    await session.commit()
    return key


async def authenticate(session: AsyncSession, key: str) -> ApiKey | None:
    """The live key row matching `key`, with its last use recorded; None if unknown, revoked or
    expired."""
    now = datetime.now(UTC)
    row = await session.scalar(
        select(ApiKey).where(
            ApiKey.key_hash == hash_api_key(key),
            ApiKey.revoked_at.is_(None),
            (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now),
        )
    )
    # Recording every use would make each request a write; once a minute tells an admin enough.
    if row is not None and (row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY):
        await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        await session.commit()
    return row
