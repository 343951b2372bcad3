"""The media socket (`/twilio/media`) against a hostile peer: a signed upgrade, a deadline and a
cap for sockets without a `start`, single-use call tokens, a fixed set of bad-frame reasons with
a limit, audio no faster than real time, a bounded keypad buffer. Real sockets throughout; the
calls that get as far as a session run on the whole platform (tests/scenarios/conftest.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from core.calls.media import media_stream_url
from core.calls.twilio_peer import connected_message, dtmf_message, inbound_media_message, new_sid
from core.settings import Settings
from core.twilio_signature import twilio_signature
from realtime.metrics import BAD_FRAMES_TOTAL, CALLS_TOTAL, REGISTRY
from realtime.server import MediaServer
from tests.local_server import serve
from tests.scenarios import conftest as scenarios
from tests.scenarios.conftest import PlatformFactory
from tests.scenarios.test_media_stream import close_code, ring, signed, start

# The whole platform, for the tests whose calls get as far as a session.
engines = scenarios.engines
platform = scenarios.platform

SILENCE = bytes([0xFF]) * 160
MAX_KEYS = 32  # realtime.session.MAX_DTMF_DIGITS

Socket = Callable[..., Awaitable[ClientConnection]]


def series() -> int:
    """How many time series the realtime process exports at /metrics."""
    return sum(len(family.samples) for family in REGISTRY.collect())


def bad_frames(reason: str | None = None) -> float:
    """`callwright_bad_frames_total`, for one reason or summed over all."""
    return sum(
        sample.value
        for family in BAD_FRAMES_TOTAL.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and reason in (None, sample.labels["reason"])
    )


def outcomes(outcome: str) -> float:
    return sum(
        sample.value
        for family in CALLS_TOTAL.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels["outcome"] == outcome
    )


async def eventually(check: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.02)


MediaNode = Callable[..., Awaitable[tuple[str, Socket]]]


@pytest.fixture
async def media_node(settings: Settings) -> AsyncIterator[MediaNode]:
    """`await media_node(**settings)`: a realtime media server on a real socket (no engines and
    no Temporal: nothing here gets past `start`), and a way to open signed sockets to it."""
    servers: list[Any] = []

    async def start_node(**overrides: Any) -> tuple[str, Socket]:
        node_settings = settings.model_copy(update=overrides)
        server = MediaServer(
            settings=node_settings, engines=cast(Any, None), temporal=cast(Any, None)
        )
        context = serve(server.app())
        base = await context.__aenter__()
        servers.append(context)
        url = media_stream_url(base)
        token = node_settings.twilio_auth_token.get_secret_value()

        async def open_socket(**options: Any) -> ClientConnection:
            headers = {"X-Twilio-Signature": twilio_signature(token, url, {})}
            return await connect(url, additional_headers=headers, **options)

        return url, open_socket

    yield start_node
    for context in reversed(servers):
        await context.__aexit__(None, None, None)


async def test_an_unsigned_or_badly_signed_upgrade_is_refused(
    media_node: MediaNode, settings: Settings
) -> None:
    url, open_socket = await media_node()
    token = settings.twilio_auth_token.get_secret_value()
    for headers in (
        {},
        {"X-Twilio-Signature": ""},
        {"X-Twilio-Signature": twilio_signature("another-accounts-token", url, {})},
        {"X-Twilio-Signature": twilio_signature(token, url + "?node=elsewhere", {})},
    ):
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, additional_headers=headers)
        assert refused.value.response.status_code == 403, headers
    # Twilio's own signature gets through.
    ws = await open_socket()
    await ws.close()


async def test_a_socket_without_start_is_closed_at_its_deadline(media_node: MediaNode) -> None:
    _url, open_socket = await media_node(media_start_timeout_s=0.5)
    ws = await open_socket()
    await ws.send(connected_message())
    async with asyncio.timeout(5):
        assert await close_code(ws) == 1008


async def test_sockets_waiting_for_start_are_capped(media_node: MediaNode) -> None:
    _url, open_socket = await media_node(media_max_pending_sockets=2, media_start_timeout_s=30)
    first, second = await open_socket(), await open_socket()
    with pytest.raises(InvalidStatus):
        await open_socket()
    await first.close()
    # A slot frees when a waiting socket goes.
    async with asyncio.timeout(5):
        while True:
            try:
                third = await open_socket()
                break
            except InvalidStatus:
                await asyncio.sleep(0.05)
    await third.close()
    await second.close()


async def test_too_many_bad_frames_close_the_socket(media_node: MediaNode) -> None:
    _url, open_socket = await media_node(media_max_bad_frames=10, media_start_timeout_s=30)
    ws = await open_socket()
    for _ in range(10):
        await ws.send("{not json")
    async with asyncio.timeout(5):
        assert await close_code(ws) == 1008


async def test_a_flood_of_invented_event_names_adds_no_metric_series(
    media_node: MediaNode,
) -> None:
    _url, open_socket = await media_node(media_start_timeout_s=30)

    async def invent(names: list[str]) -> None:
        ws = await open_socket()
        for name in names:
            await ws.send(json.dumps({"event": name, "streamSid": "MZ0"}))
        await ws.close()

    # One socket first, so that every series its kind of end adds exists already.
    sent = bad_frames()
    await invent([f"warm-up-{i}" for i in range(5)])
    await eventually(lambda: outcomes("no_start") >= 1 and bad_frames() >= sent + 5, "warm-up")
    before, sent = series(), bad_frames()
    for socket_number in range(10):
        await invent([f"invented-{socket_number}-{i}" for i in range(15)])
    await eventually(lambda: bad_frames() >= sent + 150, "the flood counted")
    assert series() == before
    assert bad_frames("unknown_event") >= 150


async def test_a_call_token_starts_one_stream_only(platform: PlatformFactory) -> None:
    world = await platform()
    call_sid, answer = await ring(world)
    first_sid = new_sid("MZ")
    async with connect(answer.url, additional_headers=signed(world, answer)) as first:
        await first.send(connected_message())
        await first.send(start(call_sid, first_sid, answer.parameters))
        assert json.loads(await first.recv())["event"] == "media"  # the greeting: it is live
        # A second stream presenting the same token, while the first is live, then after.
        async with connect(answer.url, additional_headers=signed(world, answer)) as second:
            await second.send(connected_message())
            await second.send(start(call_sid, new_sid("MZ"), answer.parameters))
            assert await close_code(second) == 1008
            assert second.close_reason == "call token already used"
        assert list(world.server.sessions) == [first_sid]
    async with connect(answer.url, additional_headers=signed(world, answer)) as third:
        await third.send(connected_message())
        await third.send(start(call_sid, new_sid("MZ"), answer.parameters))
        assert await close_code(third) == 1008


async def test_audio_faster_than_real_time_is_cut_off(platform: PlatformFactory) -> None:
    world = await platform()
    call_sid, answer = await ring(world)
    stream_sid = new_sid("MZ")
    too_fast = bad_frames("too_fast")
    async with connect(answer.url, additional_headers=signed(world, answer)) as ws:
        await ws.send(connected_message())
        await ws.send(start(call_sid, stream_sid, answer.parameters))
        # Twenty seconds of audio at once: the first two (the allowed burst) are taken.
        for n in range(1, 1001):
            frame = inbound_media_message(
                sequence_number=n + 1,
                stream_sid=stream_sid,
                chunk=n,
                timestamp_ms=20 * n,
                payload=SILENCE,
            )
            try:
                await ws.send(frame)
            except Exception:  # noqa: BLE001 - the server closed the socket mid-flood
                break
        assert await close_code(ws) == 1008
    assert bad_frames("too_fast") >= too_fast + world.settings.media_max_bad_frames


async def test_the_keypad_buffer_is_bounded(platform: PlatformFactory) -> None:
    world = await platform()
    call_sid, answer = await ring(world)
    stream_sid = new_sid("MZ")
    async with connect(answer.url, additional_headers=signed(world, answer)) as ws:
        await ws.send(connected_message())
        await ws.send(start(call_sid, stream_sid, answer.parameters))
        assert json.loads(await ws.recv())["event"] == "media"
        session = world.server.sessions[stream_sid]
        for n, digit in enumerate("1234567890" * 6 + "#"):
            await ws.send(dtmf_message(sequence_number=n + 2, stream_sid=stream_sid, digit=digit))
            await asyncio.sleep(0.02)  # a quick thumb, within the budget of non-audio messages
        await eventually(
            lambda: any(t.text.startswith("[keypad") for t in session.transcript), "the keypad turn"
        )
    keyed = next(t.text for t in session.transcript if t.text.startswith("[keypad"))
    digits = keyed.removeprefix("[keypad ").removesuffix("]")
    assert digits == ("1234567890" * 6)[-MAX_KEYS:]
