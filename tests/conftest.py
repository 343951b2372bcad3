"""Shared fixtures: real PostgreSQL with pgvector, Redis and a Temporal dev server, started once
per test session on free loopback ports; a fresh, migrated database for every test that asks.

Isolation: migrations run once into a template database; each test gets `CREATE DATABASE …
TEMPLATE` (a file copy, ~50 ms), so no test sees another's rows and none needs cleaning up.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from core.auth import create_api_key
from core.db import migrate
from core.db.models import Call
from core.db.session import make_async_engine, make_sessionmaker
from core.organizations import default_organization
from core.search_attributes import CALL_SEARCH_ATTRIBUTES
from core.settings import Settings
from workers.services import EmbeddedPostgres, EmbeddedRedis, EmbeddedTemporal, find_free_port

# Production is every process's default; the tests opt into development explicitly, for
# themselves and every process they start that inherits this environment (a test that needs
# production's or `test`'s rules says so in the settings or environment it builds).
os.environ["CALLWRIGHT_ENV"] = "development"

TEMPLATE_DB = "callwright_template"
# The tests' Temporal payload key (`test` keeps production's rules: the development key is
# refused); every test client and worker seals with it.
PAYLOAD_KEYS = "test:Y2FsbHdyaWdodC10ZXN0LXBheWxvYWQta2V5LTMyYnk="
_counter = itertools.count()


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def postgres(services_dir: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(services_dir / "postgres", find_free_port(), fast=True)
    server.start()
    server.ensure_database(TEMPLATE_DB)
    migrate.upgrade(server.database_url_for(TEMPLATE_DB))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(services_dir: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(services_dir / "redis", find_free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def temporal_server(services_dir: Path) -> Iterator[EmbeddedTemporal]:
    server = EmbeddedTemporal(
        services_dir / "temporal",
        find_free_port(),
        find_free_port(),
        headless=True,
        search_attributes=CALL_SEARCH_ATTRIBUTES,
    )
    server.start()
    yield server
    server.stop()


def _admin(postgres: EmbeddedPostgres) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(postgres.url_for("postgres"), autocommit=True)


@pytest.fixture
def database_url(postgres: EmbeddedPostgres) -> Iterator[str]:
    """A fresh database with the schema and starter templates, dropped after the test."""
    name = f"test_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    with _admin(postgres) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE_DB)
            )
        )
    yield postgres.database_url_for(name)
    with _admin(postgres) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def empty_database_url(postgres: EmbeddedPostgres) -> Iterator[str]:
    """A database with nothing in it (not even the vector extension)."""
    name = f"empty_{os.getpid()}_{next(_counter)}"
    with _admin(postgres) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield postgres.database_url_for(name)
    with _admin(postgres) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    db = make_async_engine(database_url, pool_size=2)
    yield db
    await db.dispose()


@pytest.fixture
def settings(
    database_url: str, redis_server: EmbeddedRedis, temporal_server: EmbeddedTemporal
) -> Settings:
    return Settings.model_validate(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_server.url,
            "TEMPORAL_ADDRESS": temporal_server.address,
            "CALLWRIGHT_ENV": "test",
            "TWILIO_AUTH_TOKEN": "test-twilio-token",
            "WEBHOOK_SIGNING_SECRET": "whsec_dGVzdC13ZWJob29rLXNpZ25pbmctc2VjcmV0LTEyMzQ=",
            "CALL_TOKEN_SECRET": "test-call-token-secret-0123456789abcdef",
            "PAYLOAD_ENCRYPTION_KEYS": PAYLOAD_KEYS,
        }
    )


@pytest.fixture
async def api_key(engine: AsyncEngine) -> str:
    async with make_sessionmaker(engine)() as session:
        return await create_api_key(session, name="tests")


@asynccontextmanager
async def app_client(
    settings: Settings, engine: AsyncEngine, api_key: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for an app built with `settings`, its lifespan running around it."""
    app = create_app(settings, engine=engine)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as client:
            yield client


@pytest.fixture
async def anon_client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app, sending no key."""
    async with app_client(settings, engine) as client:
        yield client


@pytest.fixture
async def client(anon_client: httpx.AsyncClient, api_key: str) -> httpx.AsyncClient:
    """An HTTP client for the app carrying a valid API key."""
    anon_client.headers["Authorization"] = f"Bearer {api_key}"
    return anon_client


EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


async def add_call(engine: AsyncEngine) -> Call:
    """A bare call row of the default organization (for tests of what hangs off a call)."""
    async with make_sessionmaker(engine)() as session:
        organization = await default_organization(session)
        call = Call(
            call_sid=f"CA{uuid.uuid4().hex}",
            direction="inbound",
            workflow_id="w",
            organization_id=organization.id,
        )
        session.add(call)
        await session.commit()
        return call


async def forget_nodes(redis_url: str | None) -> None:
    """Empty the realtime node registry (and spools) of the Redis server every test shares, so
    no node of an earlier test takes this one's calls."""
    import redis.asyncio as aioredis

    assert redis_url is not None
    redis = aioredis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter("callwright:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()
