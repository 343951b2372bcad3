"""`GET /healthz`: whether each dependency answers. No key needed (load balancers call it)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import text
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 3.0


class DependencyHealth(BaseModel):
    """One dependency's state."""

    ok: bool
    latency_ms: float
    detail: str


class Health(BaseModel):
    """Every dependency's state; `status` is `ok` only when all are."""

    status: str
    dependencies: dict[str, DependencyHealth]


async def _timed(check: Any) -> DependencyHealth:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        ok = True
    except Exception as exc:  # a health check reports every failure, whatever its kind
        detail, ok = f"{type(exc).__name__}: {exc}" or type(exc).__name__, False
    return DependencyHealth(
        ok=ok, latency_ms=round((time.perf_counter() - started) * 1000, 1), detail=str(detail)
    )


@router.get("/healthz", response_model=Health)
async def healthz(request: Request, response: Response) -> Health:
    """Database (with pgvector), Redis and Temporal, each checked with a time limit."""
    state = request.app.state

    async def database() -> str:
        async with state.engine.connect() as conn:
            version = await conn.scalar(
                text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            )
        if version is None:
            raise RuntimeError("the vector extension is missing: run `callwright migrate`")
        return f"postgres up, pgvector {version}"

    async def redis() -> str:
        if state.redis is None:
            raise RuntimeError("REDIS_URL is not set")
        await state.redis.ping()
        return "redis up"

    async def temporal() -> str:
        client = await state.temporal.get()
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=state.temporal.namespace)
        )
        return f"temporal up at {state.temporal.address}, namespace {state.temporal.namespace}"

    checks = await asyncio.gather(_timed(database), _timed(redis), _timed(temporal))
    dependencies = dict(zip(("database", "redis", "temporal"), checks, strict=True))
    healthy = all(c.ok for c in checks)
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ok" if healthy else "degraded", dependencies=dependencies)
