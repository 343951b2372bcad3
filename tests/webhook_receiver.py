"""A real HTTP receiver for webhooks, on a loopback socket, answering as scripted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Receive, Scope, Send

from tests.local_server import read_body, serve


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every request; `failures[path]` requests to that path get 500 first;
    `answers[path]` scripts the answer to that path (status, headers, body)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    always_fail: set[str] = field(default_factory=set)
    answers: dict[str, tuple[int, list[tuple[bytes, bytes]], bytes]] = field(default_factory=dict)

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, path: str, count: int = 1, timeout: float = 30) -> list[Received]:
        async with asyncio.timeout(timeout):
            while len([r for r in self.on(path) if r.headers.get("x-answered") == "200"]) < count:
                await asyncio.sleep(0.05)
        return self.on(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        path = scope["path"]
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if path in self.answers:
            status, answer_headers, answer = self.answers[path]
            headers["x-answered"] = str(status)
            self.requests.append(Received(path, headers, body))
            await send({"type": "http.response.start", "status": status, "headers": answer_headers})
            await send({"type": "http.response.body", "body": answer})
            return
        failing = path in self.always_fail or self.failures.get(path, 0) > 0
        if failing and path not in self.always_fail:
            self.failures[path] -= 1
        code = 500 if failing else 200
        headers["x-answered"] = str(code)
        self.requests.append(Received(path, headers, body))
        await send({"type": "http.response.start", "status": code, "headers": []})
        await send({"type": "http.response.body", "body": b"ok" if code == 200 else b"nope"})


@asynccontextmanager
async def run_receiver() -> AsyncIterator[Receiver]:
    """A receiver serving on a free loopback port for the duration of the block."""
    receiver = Receiver()
    async with serve(receiver) as url:
        receiver.url = url
        yield receiver


async def endpoint_secret(engine: Any, url: str) -> str:
    """The current signing secret of the webhook endpoint for `url` (read from the database)."""
    from sqlalchemy import select

    from core.db.models import WebhookEndpoint
    from core.db.session import make_sessionmaker

    async with make_sessionmaker(engine)() as session:
        secret = await session.scalar(
            select(WebhookEndpoint.secret).where(WebhookEndpoint.url == url)
        )
    assert secret is not None, f"no webhook endpoint for {url}"
    return secret
