"""`POST /api/agents/voice-preview`: the builder's "Play test phrase". The API checks the voice
as an agent's voice is checked, asks a realtime node (found in the registry, or at
REALTIME_PUBLIC_URL without Redis) over HTTP with a preview token, and hands back its WAV.
The node is the real media server with the real CPU engines on a loopback socket."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from core.agents.voice_preview import MAX_TEXT_CHARS
from core.auth import Scope, create_api_key
from core.calls.media import media_stream_url
from core.calls.nodes import NodeRegistry
from core.db.session import make_sessionmaker
from core.settings import Settings
from realtime.runtime import Engines
from realtime.server import MediaServer
from tests.conftest import app_client, forget_nodes
from tests.local_server import serve
from tests.scenarios import conftest as scenarios
from workers.services import find_free_port

engines = scenarios.engines

ROUTE = "/api/agents/voice-preview"
PHRASE = "Hi, thanks for calling. How can I help you today?"


def body(**voice: Any) -> dict[str, Any]:
    return {"text": PHRASE, "voice": {"emotion_default": "warm", "speed": 1.0, **voice}}


@pytest.fixture
async def no_nodes(settings: Settings) -> None:
    await forget_nodes(settings.redis_url)


@pytest.fixture
async def node(settings: Settings, engines: Engines) -> AsyncIterator[str]:
    """A realtime node with the CPU engines on a real socket, in the registry; its base URL."""
    await forget_nodes(settings.redis_url)
    server = MediaServer(settings=settings, engines=engines, temporal=cast(Any, None))
    async with serve(server.app()) as url:
        await server.join(settings.redis_url, media_stream_url(url))
        assert server.registry is not None
        await server.registry.heartbeat()
        try:
            yield url
        finally:
            await server.leave()


async def test_a_speed_out_of_range_is_422_at_voice_speed(
    client: httpx.AsyncClient, no_nodes: None
) -> None:
    answer = await client.post(ROUTE, json=body(speed=3.5))
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", "voice", "speed"]
    assert "between 0.5 and 2.0" in problem["msg"]


@pytest.mark.parametrize(
    ("sent", "loc"),
    [
        (body(speed="fast"), ["body", "voice", "speed"]),
        (body(pitch=20), ["body", "voice", "pitch"]),
        (body(emotion_default="furious"), ["body", "voice", "emotion_default"]),
        ({"text": "x" * (MAX_TEXT_CHARS + 1), "voice": {}}, ["body", "text"]),
        ({"text": "   ", "voice": {}}, ["body", "text"]),
    ],
    ids=["speed-not-a-number", "pitch", "emotion", "text-too-long", "text-blank"],
)
async def test_what_an_agent_could_not_have_is_422_at_its_field(
    client: httpx.AsyncClient, sent: dict[str, Any], loc: list[str]
) -> None:
    answer = await client.post(ROUTE, json=sent)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == loc


async def test_a_read_only_key_may_not_preview(
    settings: Settings, engine: AsyncEngine, no_nodes: None
) -> None:
    async with make_sessionmaker(engine)() as session:
        key = await create_api_key(session, name="reader", scopes=(Scope.READ,))
    async with app_client(settings, engine, key) as reader:
        assert (await reader.post(ROUTE, json=body())).status_code == 403


async def test_no_node_registered_is_503(client: httpx.AsyncClient, no_nodes: None) -> None:
    answer = await client.post(ROUTE, json=body())
    assert answer.status_code == 503
    assert "no realtime node" in answer.json()["detail"]


async def test_a_registered_node_that_does_not_answer_is_503(
    client: httpx.AsyncClient, settings: Settings, no_nodes: None
) -> None:
    redis = aioredis.Redis.from_url(cast(str, settings.redis_url))
    gone = f"ws://127.0.0.1:{find_free_port()}/twilio/media"  # nothing listens there
    try:
        await NodeRegistry(redis, node_id="gone", media_url=gone, capacity=4).heartbeat()
        answer = await client.post(ROUTE, json=body())
    finally:
        await redis.aclose()
    assert answer.status_code == 503
    assert "could not be reached" in answer.json()["detail"]


@pytest.mark.slow
async def test_a_registered_node_speaks_the_phrase(client: httpx.AsyncClient, node: str) -> None:
    answer = await client.post(ROUTE, json=body(speed=1.1))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(answer.content)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert wav.getnframes() > 8000  # over a second of speech


@pytest.mark.slow
async def test_without_redis_the_node_at_realtime_public_url_speaks(
    settings: Settings, engine: AsyncEngine, api_key: str, engines: Engines
) -> None:
    alone = settings.model_copy(update={"redis_url": None})
    server = MediaServer(settings=alone, engines=engines, temporal=cast(Any, None))
    async with serve(server.app()) as url:
        api_settings = alone.model_copy(update={"realtime_public_url": url})
        async with app_client(api_settings, engine, api_key) as client:
            answer = await client.post(ROUTE, json=body())
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "audio/wav"
