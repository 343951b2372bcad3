"""API keys: shown once, stored hashed, revocable."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.auth import authenticate, create_api_key, hash_api_key
from core.db.models import ApiKey
from core.db.session import make_sessionmaker


async def test_only_the_hash_is_stored_and_the_key_authenticates(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as session:
        key = await create_api_key(session, name="crm")
        row = await session.scalar(select(ApiKey).where(ApiKey.name == "crm"))
        assert row is not None
        assert row.key_hash == hash_api_key(key) and key not in (row.key_hash, row.prefix)
        found = await authenticate(session, key)
        assert found is not None and found.name == "crm"
        assert found.last_used_at is not None
        assert await authenticate(session, key + "x") is None


async def test_revoked_key_no_longer_authenticates(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as session:
        key = await create_api_key(session, name="old")
        await session.execute(update(ApiKey).values(revoked_at=ApiKey.created_at))
        await session.commit()
        assert await authenticate(session, key) is None
