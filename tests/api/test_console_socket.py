"""The web console's test-call socket (`WS /api/console/call`): a browser stands in for the
caller, the API for Twilio, and the call runs through the real platform (API on a real socket,
an in-process worker, the realtime server with the CPU engines, webhooks to a local receiver)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.app import create_app
from api.routes.calls import hit_call_quota
from core.auth import Scope, create_api_key
from core.db.session import make_sessionmaker
from core.organizations import ensure_organization
from core.settings import Settings
from realtime.server import CONSOLE_REPROMPT_S
from tests.local_server import serve
from tests.scenarios import conftest as scenarios
from tests.scenarios.conftest import Platform, PlatformFactory, finished_call
from workers.bench import BOOKING

# The whole platform, for the tests whose calls get as far as a session.
engines = scenarios.engines
platform = scenarios.platform

QUIET_S = 1.5
"""No agent audio for this long after some arrived: the agent has finished its turn."""


def socket_url(api_url: str) -> str:
    return api_url.replace("http://", "ws://") + "/api/console/call"


class Browser:
    """The console's side of the socket: plays (counts) the agent's audio, echoes its marks at
    once, keeps every JSON message."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.audio_frames = 0
        self.audio_bytes = 0
        self.messages: list[dict[str, Any]] = []
        self.last_audio_at: float | None = None
        self.closed = asyncio.Event()
        self._arrived = asyncio.Condition()
        self._task = asyncio.create_task(self._receive())

    async def _receive(self) -> None:
        try:
            async for frame in self.ws:
                async with self._arrived:
                    if isinstance(frame, bytes):
                        self.audio_frames += 1
                        self.audio_bytes += len(frame)
                        self.last_audio_at = asyncio.get_running_loop().time()
                    else:
                        message = json.loads(frame)
                        self.messages.append(message)
                        if message["type"] == "mark":
                            await self.ws.send(json.dumps(message))
                    self._arrived.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            async with self._arrived:
                self._arrived.notify_all()

    async def message(self, kind: str, timeout: float = 30) -> dict[str, Any]:
        """The first message of this type (waiting for it)."""

        def found() -> dict[str, Any] | None:
            return next((m for m in self.messages if m["type"] == kind), None)

        async with self._arrived, asyncio.timeout(timeout):
            await self._arrived.wait_for(lambda: found() is not None or self.closed.is_set())
        message = found()
        assert message is not None, (kind, self.messages)
        return message

    async def agent_done(self, after_bytes: int, timeout: float = 60) -> None:
        """Until the agent has spoken past `after_bytes` and then gone quiet."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while True:
                heard = self.audio_bytes > after_bytes and self.last_audio_at is not None
                if heard and loop.time() - (self.last_audio_at or 0) > QUIET_S:
                    return
                if self.closed.is_set():
                    return
                await asyncio.sleep(0.05)

    async def say(self, text: str) -> None:
        """A typed turn, answered."""
        before = self.audio_bytes
        await self.ws.send(json.dumps({"type": "say", "text": text}))
        await self.agent_done(before)

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait([self._task], timeout=5)


async def open_call(world: Platform, key: str | None = None) -> tuple[Browser, dict[str, Any]]:
    """A console call to the platform's agent, its greeting heard."""
    ws = await connect(socket_url(world.api_url))
    key = key or world.api.headers["Authorization"].removeprefix("Bearer ")
    await ws.send(json.dumps({"type": "start", "key": key, "agent_id": int(world.agent["id"])}))
    browser = Browser(ws)
    call = await browser.message("call")
    await browser.agent_done(0)
    return browser, call


async def wait_for(check: Any, timeout: float = 30) -> Any:
    """Poll the coroutine function `check` until it returns something truthy."""
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.2)
    return result


def console_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("console-") and not t.done()]


@pytest.mark.slow
async def test_a_typed_booking_completes_the_goal_and_its_webhooks_show(
    platform: PlatformFactory,
) -> None:
    world = await platform()
    browser, call = await open_call(world)
    call_sid = call["call_sid"]
    assert call_sid.startswith("CA") and len(call_sid) == 34
    assert call["workflow_id"] == f"call-{call_sid}"
    assert "temporal_ui_url" in call
    assert browser.audio_frames > 0  # the greeting, as binary μ-law frames
    # A person types slower than a caller speaks: the agent waits longer before nudging.
    [session] = [s for s in world.server.sessions.values() if s.call.call_sid == call_sid]
    assert session.settings.reprompt_after_s >= CONSOLE_REPROMPT_S > 8.0

    for step in BOOKING[:-1]:
        await browser.say(step["say"])

    async def goal_complete() -> bool:
        progress = (await world.api.get(f"/api/calls/{call_sid}")).json().get("progress") or {}
        return any(g["complete"] for g in progress.get("goals", []))

    await wait_for(goal_complete)
    await browser.say(BOOKING[-1]["say"])  # "Yes, that's right.": the agent says goodbye
    ended = await browser.message("ended")
    await asyncio.wait_for(browser.closed.wait(), 10)
    assert browser.ws.close_code == 1000
    assert ended["reason"] == "completed", ended

    record = await finished_call(world, call_sid)
    assert record["direction"] == "inbound" and record["outcome"] == "goals_met", record
    caller = [t["text"] for t in record["transcript"] if t["speaker"] == "caller"]
    assert caller == [step["say"] for step in BOOKING]
    answers = [t for t in record["transcript"] if t["speaker"] == "agent" and t["latency"]]
    # Typed: no end-of-turn or speech-to-text stage, yet the first audio is stamped.
    assert answers and all("stt" not in a["latency"] for a in answers)
    assert all(a["latency"]["first_frame"] > 0 for a in answers)

    async def goal_delivery() -> list[dict[str, Any]]:
        response = await world.api.get("/api/webhooks/deliveries", params={"call": call_sid})
        assert response.status_code == 200, response.text
        return [d for d in response.json() if d["event_type"] == "goal.completed"]

    deliveries = await wait_for(goal_delivery)
    assert deliveries[0]["payload"]["data"]["call_sid"] == call_sid, deliveries[0]["payload"]
    assert deliveries[0]["payload"]["data"]["test"] is True  # receivers can tell a trial call
    # By the call's id too; another call's deliveries are not listed.
    by_id = await world.api.get("/api/webhooks/deliveries", params={"call": record["id"]})
    assert {d["id"] for d in by_id.json()} >= {deliveries[0]["id"]}
    other = await world.api.get("/api/webhooks/deliveries", params={"call": "CAnone"})
    assert other.json() == []
    assert not console_tasks()


@pytest.mark.slow
async def test_a_bad_typed_turn_is_refused_and_the_call_goes_on(
    platform: PlatformFactory,
) -> None:
    world = await platform()
    browser, call = await open_call(world)
    for text in ("", "x" * 1001, "   "):
        await browser.ws.send(json.dumps({"type": "say", "text": text}))
        async with asyncio.timeout(10):
            while not any(m["type"] == "error" for m in browser.messages):
                await asyncio.sleep(0.02)
        error = browser.messages.pop(
            next(i for i, m in enumerate(browser.messages) if m["type"] == "error")
        )
        assert error["field"] == "text", error
    # Odd audio lengths and unknown messages are dropped too; the call is still live.
    await browser.ws.send(bytes(100))
    await browser.ws.send(json.dumps({"type": "dance"}))
    await browser.say("Hi, my name is Jane Smith.")
    assert not browser.closed.is_set()
    await browser.ws.send(json.dumps({"type": "hangup"}))
    ended = await browser.message("ended")
    assert ended["reason"] == "caller_hung_up", ended
    record = await finished_call(world, call["call_sid"])
    assert [t["text"] for t in record["transcript"] if t["speaker"] == "caller"] == [
        "Hi, my name is Jane Smith."
    ]


@pytest.mark.slow
async def test_the_browser_leaving_mid_call_ends_the_call(platform: PlatformFactory) -> None:
    world = await platform()
    browser, call = await open_call(world)
    # Leave while the agent answers.
    await browser.ws.send(json.dumps({"type": "say", "text": "Hi, my name is Jane Smith."}))
    await asyncio.sleep(0.3)
    await browser.close()
    record = await finished_call(world, call["call_sid"])
    assert record["end_reason"] == "caller_hung_up", record
    async with asyncio.timeout(10):
        while console_tasks() or world.server.sessions:
            await asyncio.sleep(0.05)


@pytest.fixture
async def api_url(settings: Settings, engine: AsyncEngine) -> AsyncIterator[str]:
    """The API alone on a real socket: enough for calls refused before they start."""
    async with serve(create_app(settings, engine=engine)) as url:
        yield url


async def refusal(api_url: str, first: str | bytes) -> tuple[dict[str, Any], int | None]:
    """The error message and close code a first message gets."""
    async with connect(socket_url(api_url)) as ws:
        await ws.send(first)
        error = json.loads(await asyncio.wait_for(ws.recv(), 10))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        return error, ws.close_code


def start(key: str, agent_id: object) -> str:
    return json.dumps({"type": "start", "key": key, "agent_id": agent_id})


async def test_calls_are_refused_before_they_start(
    api_url: str, api_key: str, engine: AsyncEngine
) -> None:
    async with make_sessionmaker(engine)() as session:
        reader = await create_api_key(session, name="reader", scopes=(Scope.READ,))
        other = await ensure_organization(session, "Second Clinic")
        other_key = await create_api_key(
            session, name="other", organization_id=other.id, scopes=(Scope.CALLS_WRITE,)
        )
    # The default organization's agent, made through the API.
    document = json.loads((scenarios.EXAMPLES_DIR / scenarios.AGENT_FILE).read_text())
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {api_key}"}
    ) as http:
        created = await http.post("/api/agents", json=document)
        assert created.status_code == 201, created.text
    agent_id = created.json()["id"]

    cases: list[tuple[str | bytes, int, str | None]] = [
        (start("cw_not-a-key", agent_id), 4401, "key"),
        (start(reader, agent_id), 4403, "key"),
        (start(other_key, agent_id), 4404, "agent_id"),  # another organization's agent
        (start(api_key, 2_000_000), 4404, "agent_id"),
        ("{not json", 4400, None),
        (json.dumps({"type": "say", "text": "hello"}), 4400, None),
        (start(api_key, "seven"), 4400, "agent_id"),
        (b"\xff" * 160, 4400, None),
    ]
    for first, code, field in cases:
        error, closed = await refusal(api_url, first)
        assert (error["type"], error["field"], closed) == ("error", field, code), (first, error)
        assert error["message"]


async def test_calls_past_the_organizations_limits_are_refused(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with make_sessionmaker(engine)() as session:
        organization = await ensure_organization(session, "Limited Clinic")
        organization.rate_limit_per_minute = 2
        organization.calls_per_hour = 3
        await session.commit()
        key = await create_api_key(
            session,
            name="limited",
            organization_id=organization.id,
            scopes=(Scope.CALLS_WRITE, Scope.AGENTS_WRITE),
        )
    app = create_app(settings, engine=engine)
    async with serve(app) as url:
        document = json.loads((scenarios.EXAMPLES_DIR / scenarios.AGENT_FILE).read_text())
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            created = await http.post("/api/agents", json=document)  # one request of two
            assert created.status_code == 201, created.text
        agent_id = created.json()["id"]
        # The organization's calls this hour are used up (by phone or console alike).
        for _ in range(organization.calls_per_hour):
            assert await hit_call_quota(app.state.limiter, organization) is None
        error, closed = await refusal(url, start(key, agent_id))
        assert closed == 4429, error
        assert "3 calls per hour" in error["message"], error
        # The socket counted against the key's requests per minute as the HTTP API does: that
        # was the second; the third is refused, on the socket and over HTTP.
        error, closed = await refusal(url, start(key, agent_id))
        assert closed == 4429, error
        assert "2 requests per minute" in error["message"], error
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            assert (await http.get("/api/agents")).status_code == 429
