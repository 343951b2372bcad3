"""Engines and sessions. One async engine per process; sessions are short and per request."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver whatever scheme the URL came with (`postgres://` included)."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, got {url.split(':', 1)[0]}://…")


def make_async_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine on psycopg 3; connections are checked before use (`pool_pre_ping`)."""
    return create_async_engine(normalise_database_url(url), pool_size=pool_size, pool_pre_ping=True)


def make_sync_engine(url: str) -> Engine:
    """A sync engine, for migrations and the CLI."""
    return create_engine(normalise_database_url(url), pool_pre_ping=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded rows usable after commit (routes return them)."""
    return async_sessionmaker(engine, expire_on_commit=False)
