"""The FastAPI application: `create_app(settings)`.

The app owns one database engine, one Redis client and (lazily) one Temporal client for its
lifetime. Tests hand it an engine of their own database; servers let the lifespan make one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from api import console
from api.errors import install_error_handlers
from api.middleware import AuditLog, BodySizeLimit
from api.routes import (
    agents,
    calls,
    codec,
    domains,
    evals,
    goals,
    health,
    knowledge,
    organization,
    templates,
    twilio,
    voice,
    webhook_endpoints,
    webhooks,
)
from api.routes import console as console_calls
from api.temporal import TemporalConnector
from core.cache import Cache, namespace_for
from core.db.session import make_async_engine, make_sessionmaker
from core.ratelimit import Limiter
from core.settings import Settings
from core.twilio_rest import make_twilio_client

logger = logging.getLogger(__name__)

API_DESCRIPTION = """Admin API of Callwright: build phone voice agents from templates, goals,
do/don't instructions, domain knowledge and a voice. Every `/api` route needs
`Authorization: Bearer <key>` (create one with `callwright apikey create NAME`). A key belongs
to one organization and sees only its rows; its scopes (`read`, `agents:write`, `calls:write`,
`webhooks:write`, `admin`) say what it may change."""


def create_app(settings: Settings, *, engine: AsyncEngine | None = None) -> FastAPI:
    """The API app. With `engine`, it uses that database engine and leaves disposing it to you."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        if engine is None:
            if not settings.database_url:
                raise RuntimeError("DATABASE_URL is not set (callwright dev sets it for you)")
            db = make_async_engine(settings.database_url)
        else:
            db = engine
        app.state.engine = db
        app.state.sessions = make_sessionmaker(db)
        app.state.redis = (
            aioredis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
            if settings.redis_url
            else None
        )
        # Counts and cached values are per database: ids (a key's, an organization's, an
        # agent's) only mean something there.
        namespace = namespace_for(db.url.render_as_string(hide_password=True))
        app.state.limiter = Limiter(app.state.redis, namespace=namespace)
        app.state.cache = Cache.from_url(settings.redis_url, namespace=namespace)
        app.state.twilio = make_twilio_client(settings)
        app.state.temporal = TemporalConnector(
            settings.temporal_address, settings.temporal_namespace, settings.payload_encryption_keys
        )
        try:
            yield
        finally:
            if app.state.redis is not None:
                await app.state.redis.aclose()
            await app.state.cache.close()
            if owned:
                await db.dispose()

    app = FastAPI(
        title="Callwright",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(AuditLog)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_request_bytes,
        path_limits=[knowledge.import_body_limit(settings)],
    )
    app.add_middleware(codec.CodecCors, origins=settings.codec_origins)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(codec.router)
    # Templates first: `/api/agents/templates` must not be read as `/api/agents/{agent_id}`.
    app.include_router(templates.router)
    app.include_router(voice.router)  # POST /api/agents/voice-preview
    app.include_router(agents.router)
    app.include_router(evals.router)  # POST /api/agents/{id}/eval
    app.include_router(goals.router)
    app.include_router(domains.router)
    app.include_router(knowledge.router)
    app.include_router(calls.router)
    app.include_router(webhooks.router)
    app.include_router(webhook_endpoints.router)
    app.include_router(organization.router)
    app.include_router(twilio.router)
    app.include_router(console_calls.router)  # the console's test-call socket
    app.include_router(console.router)
    return app
