"""A local stand-in for an OpenAI-compatible LLM server (a paid LLM is out of reach here).

It speaks the real chat-completions wire protocol on a real loopback socket:
`POST /v1/chat/completions` with `"stream": true` answers `text/event-stream`, one
`data: {chat.completion.chunk}` event per piece of text or tool-call fragment, then
`data: [DONE]`; an error status answers OpenAI's JSON error body. Every chunk is checked against
the `openai` package's own `ChatCompletionChunk` type before it is sent, so what the real client
parses here is what it parses from a real server.

Tests script the replies in order (`FakeLLM.script`) and read back every request body received
and whether the client hung up mid-stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletionChunk
from starlette.types import Receive, Scope, Send

from tests.local_server import read_body, serve


@dataclass
class ToolCall:
    """A tool call the scripted model makes; `arguments` is raw text (it may be broken JSON)."""

    name: str
    arguments: str
    fragments: int = 2
    """How many pieces the arguments are streamed in, as real servers do."""


@dataclass
class Reply:
    """One scripted answer."""

    text: list[str] = field(default_factory=list)
    """Content deltas, one chunk each, in order."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    status: int = 200
    """Anything but 200 answers an OpenAI-style error body instead of a stream."""
    first_delay: float = 0.0
    """Seconds between the response headers and the first chunk (a slow or stalled model)."""
    delay: float = 0.0
    """Seconds between chunks."""
    raw: bytes | None = None
    """A stream body sent as is instead of chunks (a broken server)."""


@dataclass
class Exchange:
    """One request the fake received and what became of it."""

    body: dict[str, Any]
    chunks_sent: int = 0
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the client hung up before the stream ended."""
    finished: bool = False

    @property
    def system(self) -> str:
        """The request's system message."""
        return str(self.body["messages"][0]["content"])


@dataclass
class FakeLLM:
    """The scripted model server; `url` is its OpenAI base URL (ending in /v1)."""

    url: str = ""
    replies: deque[Reply] = field(default_factory=deque)
    exchanges: list[Exchange] = field(default_factory=list)

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered one per request; "OK." once the queue is empty."""
        self.replies.extend(replies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = json.loads(await read_body(receive) or b"{}")
        if scope["method"] != "POST" or scope["path"] != "/v1/chat/completions":
            await _json(send, 404, _error("not found", "invalid_request_error"))
            return
        exchange = Exchange(body)
        self.exchanges.append(exchange)
        reply = self.replies.popleft() if self.replies else Reply(text=["OK."])
        if reply.status != 200:
            await _json(send, reply.status, _error("scripted failure", "server_error"))
            return
        watcher = asyncio.create_task(_watch_disconnect(receive, exchange.disconnected))
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/event-stream; charset=utf-8")],
                }
            )
            await self._stream(send, exchange, reply)
        finally:
            watcher.cancel()
            with suppress(asyncio.CancelledError):
                await watcher

    async def _stream(self, send: Send, exchange: Exchange, reply: Reply) -> None:
        if reply.raw is not None:
            await send({"type": "http.response.body", "body": reply.raw})
            exchange.finished = True
            return
        model = str(exchange.body.get("model", "fake"))
        for number, delta in enumerate(_deltas(reply)):
            pause = reply.first_delay if number == 1 else reply.delay if number else 0.0
            if pause and await _hung_up_within(exchange.disconnected, pause):
                return
            if exchange.disconnected.is_set():
                return
            finish = delta.pop("finish_reason", None)
            await send(
                {
                    "type": "http.response.body",
                    "body": _event(_chunk(model, delta, finish)),
                    "more_body": True,
                }
            )
            exchange.chunks_sent += 1
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        exchange.finished = True


def _deltas(reply: Reply) -> list[dict[str, Any]]:
    """The deltas OpenAI streams: the role first, then content, then tool-call fragments."""
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": piece} for piece in reply.text]
    for index, call in enumerate(reply.tool_calls):
        opening = {"index": index, "id": f"call_{index}_{time.monotonic_ns()}", "type": "function"}
        deltas.append(
            {"tool_calls": [{**opening, "function": {"name": call.name, "arguments": ""}}]}
        )
        size = -(-len(call.arguments) // max(call.fragments, 1)) or 1
        for start in range(0, len(call.arguments), size):
            fragment = call.arguments[start : start + size]
            deltas.append({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
    deltas.append({"finish_reason": "tool_calls" if reply.tool_calls else "stop"})
    return deltas


def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    chunk = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    ChatCompletionChunk.model_validate(chunk)  # the client's own type must accept it
    return chunk


def _event(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


async def _json(send: Send, status: int, payload: dict[str, Any]) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


async def _watch_disconnect(receive: Receive, disconnected: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    disconnected.set()


async def _hung_up_within(disconnected: asyncio.Event, seconds: float) -> bool:
    with suppress(TimeoutError):
        await asyncio.wait_for(disconnected.wait(), seconds)
    return disconnected.is_set()


@asynccontextmanager
async def run_fake_llm() -> AsyncIterator[FakeLLM]:
    """The fake, serving on a free loopback port for the duration of the block."""
    fake = FakeLLM()
    async with serve(fake) as url:
        fake.url = f"{url}/v1"
        yield fake
