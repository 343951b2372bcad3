"""`POST /voice/preview` on the media server: the builder's test phrase, spoken by the node's
TTS engine through the phone-audio path, for the API's preview token only.

The refusals need no engine (nothing gets past the checks); the tests that hear a phrase run the
real CPU engines (Piper "joe"), loaded once as the realtime process loads them."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import numpy as np
import pytest

from core.agents.voice_preview import MAX_TEXT_CHARS, PREVIEW_PATH
from core.calls.tokens import (
    InvalidCallToken,
    issue_call_token,
    issue_preview_token,
    verify_call_token,
)
from core.settings import Settings
from realtime.runtime import Engines
from realtime.server import MediaServer
from tests.scenarios import conftest as scenarios

engines = scenarios.engines

SECRET = "test-call-token-secret-0123456789abcdef"
PHRASE = "Hi, thanks for calling. How can I help you today?"


def node_settings(**overrides: Any) -> Settings:
    return Settings.model_validate(
        {"CALLWRIGHT_ENV": "test", "CALL_TOKEN_SECRET": SECRET, **overrides}
    )


def token(**options: Any) -> str:
    return issue_preview_token(SECRET, organization_id=1, **options)


def bearer(value: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {value if value is not None else token()}"}


def voice(**fields: Any) -> dict[str, Any]:
    return {"emotion_default": "friendly", "speed": 1.0, "pitch": 0, **fields}


def read_wav(body: bytes) -> tuple[int, int, int, np.ndarray[Any, Any]]:
    """(rate, channels, sample width, samples) of a WAV body."""
    with wave.open(io.BytesIO(body)) as wav:
        frames = wav.readframes(wav.getnframes())
        return (
            wav.getframerate(),
            wav.getnchannels(),
            wav.getsampwidth(),
            np.frombuffer(frames, dtype="<i2"),
        )


async def client_for(server: MediaServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server.app()), base_url="http://node", timeout=30
    )


@pytest.fixture
async def bare_node() -> AsyncIterator[httpx.AsyncClient]:
    """A node without engines: enough for everything refused before synthesis."""
    server = MediaServer(
        settings=node_settings(), engines=cast(Any, None), temporal=cast(Any, None)
    )
    async with await client_for(server) as client:
        yield client


@pytest.fixture
async def node(engines: Engines) -> AsyncIterator[tuple[MediaServer, httpx.AsyncClient]]:
    """A node with the real CPU engines."""
    server = MediaServer(settings=node_settings(), engines=engines, temporal=cast(Any, None))
    async with await client_for(server) as client:
        yield server, client


async def test_without_a_token_the_node_answers_401(bare_node: httpx.AsyncClient) -> None:
    answer = await bare_node.post(PREVIEW_PATH, json={"text": PHRASE, "voice": voice()})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "bad",
    [
        "not-a-jwt",
        issue_preview_token("another-secret-of-the-same-length-0123", organization_id=1),
        issue_preview_token(
            SECRET, organization_id=1, now=datetime.now(UTC) - timedelta(minutes=5)
        ),
        # A call token is signed with the same secret, but is for a media stream.
        issue_call_token(SECRET, call_sid="CA123", agent_id=1),
    ],
    ids=["garbage", "forged", "expired", "call-token"],
)
async def test_a_bad_token_is_refused_with_403(
    bare_node: httpx.AsyncClient, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await bare_node.post(
        PREVIEW_PATH, json={"text": PHRASE, "voice": voice()}, headers=bearer(bad)
    )
    assert answer.status_code == 403
    assert "voice preview refused" in caplog.text


async def test_too_long_text_is_422(bare_node: httpx.AsyncClient) -> None:
    answer = await bare_node.post(
        PREVIEW_PATH,
        json={"text": "a" * (MAX_TEXT_CHARS + 1), "voice": voice()},
        headers=bearer(),
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "text"]


async def test_a_speed_out_of_range_is_422_at_voice_speed(bare_node: httpx.AsyncClient) -> None:
    answer = await bare_node.post(
        PREVIEW_PATH, json={"text": PHRASE, "voice": voice(speed=9)}, headers=bearer()
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "voice", "speed"]


async def test_a_node_full_of_calls_previews_nothing() -> None:
    server = MediaServer(
        settings=node_settings(MAX_CONCURRENT_CALLS=1),
        engines=cast(Any, None),
        temporal=cast(Any, None),
    )
    server.sessions["MZ-live"] = cast(Any, object())  # its one call
    async with await client_for(server) as client:
        answer = await client.post(PREVIEW_PATH, json={"text": PHRASE}, headers=bearer())
        assert answer.status_code == 503
        assert "at capacity" in answer.json()["detail"]
        server.sessions.clear()
        server.draining = True
        answer = await client.post(PREVIEW_PATH, json={"text": PHRASE}, headers=bearer())
        assert answer.status_code == 503
        assert "draining" in answer.json()["detail"]


@pytest.mark.slow
async def test_a_phrase_comes_back_as_8khz_phone_audio(
    node: tuple[MediaServer, httpx.AsyncClient],
) -> None:
    _, client = node
    answer = await client.post(
        PREVIEW_PATH, json={"text": PHRASE, "voice": voice()}, headers=bearer()
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "audio/wav"
    rate, channels, width, samples = read_wav(answer.content)
    assert (rate, channels, width) == (8000, 1, 2)
    seconds = samples.size / rate
    assert 1.5 < seconds < 10, seconds
    # Speech at the phone path's level, not silence: RMS within ~10 dB of its -16 dBFS target.
    rms = float(np.sqrt(np.mean((samples.astype(np.float64) / 32768) ** 2)))
    assert 20 * np.log10(rms) > -30
    # Whole 20 ms frames, as a call's audio is.
    assert samples.size % 160 == 0


@pytest.mark.slow
async def test_a_faster_voice_speaks_the_phrase_in_less_time(
    node: tuple[MediaServer, httpx.AsyncClient],
) -> None:
    _, client = node
    lengths = {}
    for speed in (1.0, 2.0):
        answer = await client.post(
            PREVIEW_PATH, json={"text": PHRASE, "voice": voice(speed=speed)}, headers=bearer()
        )
        assert answer.status_code == 200, answer.text
        lengths[speed] = read_wav(answer.content)[3].size
    # Piper stretches phonemes, not the pauses between clauses: twice the rate is ~0.65 the time.
    assert lengths[2.0] < lengths[1.0] * 0.8, lengths


@pytest.mark.slow
async def test_a_token_speaks_once_and_a_second_preview_waits_its_turn(
    node: tuple[MediaServer, httpx.AsyncClient],
) -> None:
    server, client = node
    used = token()
    first = asyncio.create_task(
        client.post(PREVIEW_PATH, json={"text": " ".join([PHRASE] * 5)}, headers=bearer(used))
    )
    async with asyncio.timeout(10):
        while server._preview is None or not server._preview._slots.locked():
            await asyncio.sleep(0.005)
    busy = await client.post(PREVIEW_PATH, json={"text": PHRASE}, headers=bearer())
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert (await first).status_code == 200
    again = await client.post(PREVIEW_PATH, json={"text": PHRASE}, headers=bearer(used))
    assert again.status_code == 403


def test_a_preview_token_cannot_open_a_media_stream() -> None:
    with pytest.raises(InvalidCallToken):
        verify_call_token(SECRET, token())
