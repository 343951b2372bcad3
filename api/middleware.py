"""ASGI middleware. A pure ASGI class (not BaseHTTPMiddleware) so bodies stream untouched."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.db.models import ApiKey, AuditEvent

logger = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class PathLimit:
    """A body limit of its own for requests of `method` to paths matching `pattern` (the
    knowledge import, which takes whole documents)."""

    method: str
    pattern: re.Pattern[str]
    max_bytes: int
    detail: str = ""
    """Added to the 413's message: which setting the limit comes from."""


class BodySizeLimit:
    """Answers 413 to a request whose body exceeds `max_bytes` (or its path's own limit), by
    header or as it streams."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, path_limits: Sequence[PathLimit] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = tuple(path_limits)

    def _limit(self, scope: Scope) -> tuple[int, str]:
        for limit in self.path_limits:
            if scope["method"] == limit.method and limit.pattern.fullmatch(scope["path"]):
                return limit.max_bytes, limit.detail
        return self.max_bytes, ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes, detail = self._limit(scope)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > max_bytes:
                    await self._reject(send, max_bytes, detail)
                    return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _TooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await self._reject(send, max_bytes, detail)

    @staticmethod
    async def _reject(send: Send, max_bytes: int, detail: str) -> None:
        message = f"request body is larger than {max_bytes} bytes"
        body = json.dumps({"detail": f"{message}; {detail}" if detail else message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(HTTPException):
    """Raised inside `receive` to stop reading a body past the limit. An HTTPException, because
    FastAPI turns any other error while reading a body into a 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body is larger than {max_bytes} bytes")


class AuditLog:
    """Writes an `audit_events` row for every change an API key asks for (any method but GET,
    HEAD and OPTIONS), allowed or refused, once its response is sent: which key, which method
    and path, what status came back, from which client address. Bodies are not kept: they can
    hold the very data the log must not spread."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READ_METHODS:
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})  # request.state writes here
        status_code = 500

        async def recording_send(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            key: ApiKey | None = state.get("api_key")
            if key is not None:
                await self._record(scope, key, status_code)

    async def _record(self, scope: Scope, key: ApiKey, status_code: int) -> None:
        client = scope.get("client")
        event = AuditEvent(
            organization_id=key.organization_id,
            api_key_id=key.id,
            key_name=key.name,
            method=scope["method"][:8],
            path=scope["path"][:300],
            status_code=status_code,
            client=(client[0] if client else "")[:64],
        )
        sessions: async_sessionmaker[AsyncSession] = scope["app"].state.sessions
        try:
            async with sessions() as session:
                session.add(event)
                await session.commit()
        except Exception:
            # The change itself is done; losing its audit line must be loud, not a 500.
            logger.exception(
                "audit: could not record %s %s by key %s", event.method, event.path, key.id
            )
