"""The simulated caller against a minimal agent speaking Twilio's Media Streams protocol on a
real WebSocket, and against the real API for `POST /twilio/voice`.

The stub agent parses everything the caller sends with the server's own codec
(`realtime.twilio_protocol`), greets with Piper speech and a mark, answers each caller utterance
it hears (energy-based) after a known delay, and sends `clear` when the caller talks over it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import numpy as np
import pytest
import redis.asyncio as aioredis
from starlette.types import Receive, Scope, Send
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, VoiceResponse
from typer.testing import CliRunner
from websockets.asyncio.server import ServerConnection, serve

from core.calls.nodes import NodeRegistry
from core.calls.tokens import verify_call_token
from core.settings import Settings
from core.webhooks.signing import encode_body, event_envelope, signed_headers
from realtime.audio import FRAME_BYTES, optimize_for_twilio, ulaw_decode
from realtime.engines.piper_tts import PiperEngine
from realtime.twilio_protocol import (
    Connected,
    Dtmf,
    Mark,
    Media,
    Start,
    Stop,
    clear_message,
    mark_message,
    media_message,
    parse_message,
)
from tests.conftest import EXAMPLES_DIR, app_client, forget_nodes
from tests.local_server import read_body
from tests.local_server import serve as serve_asgi
from workers.caller.answer import parse_twiml
from workers.caller.caller import SimulatedCaller
from workers.caller.errors import CallRejected, VoiceWebhookError
from workers.caller.playback import PlaybackBuffer
from workers.caller.report import CallReport
from workers.caller.script import HangupStep, SayStep, ScriptError, parse_script
from workers.caller.sink import run_webhook_sink
from workers.caller.voice import CallerUtterance, audible_span

AUTH_TOKEN = "test-twilio-token"
PUBLIC_BASE = "https://voice.example.test"
GREETING = "Thank you for calling Bright Smile Dental. How can I help you today?"
LONG_GREETING = (
    "Thank you for calling Bright Smile Dental. We are open Monday to Friday from eight in the "
    "morning until six in the evening, and on Saturday mornings. How can I help you today?"
)
REPLY = "Of course, we have an opening on Tuesday afternoon."
DTMF_REPLY = "You pressed a key. Please hold while I connect you to our front desk team."
BOOKING = "I would like to book a cleaning next week."
LOUD_DBFS = -40.0
END_QUIET_FRAMES = 15  # the stub's end of turn: 300 ms without a loud frame
REPLY_DELAY_S = 0.3  # and then this long before its answer
BARGE_IN_FRAMES = 10  # 200 ms of caller speech over the agent's audio → clear


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+|\d+", text.lower())


def dbfs(frame: bytes) -> float:
    samples = ulaw_decode(frame).astype(np.float64) / 32768.0
    power = float(np.mean(samples * samples))
    return 10 * np.log10(power) if power > 1e-12 else -120.0


@pytest.fixture(scope="module")
def speech() -> dict[str, list[bytes]]:
    """The stub agent's lines as Twilio frames, synthesized once (its answers must not wait)."""
    engine = PiperEngine()
    return {
        text: optimize_for_twilio(
            engine.model.synthesize_blocking(text, engine.length_scale), engine.sample_rate
        )
        for text in (GREETING, LONG_GREETING, REPLY, DTMF_REPLY)
    }


@dataclass
class StubAgent:
    """A minimal agent behind a real Media Streams WebSocket."""

    speech: dict[str, list[bytes]]
    greeting: str = GREETING
    paced: bool = False  # False: send a whole line at once; True: 0.1 s chunks, 1 s ahead
    hang_up_after_greeting: bool = False
    drop_streams: int = 0  # close this many streams right after their greeting, then behave
    streams: int = 0
    token_secret: str | None = None
    url: str = ""
    messages: list[tuple[float, Any]] = field(default_factory=list)
    start: Start | None = None
    marks_sent: dict[str, tuple[float, float]] = field(default_factory=dict)  # sent, plays until
    marks_echoed: dict[str, float] = field(default_factory=dict)
    clears_sent: list[float] = field(default_factory=list)
    utterances: list[tuple[float, float]] = field(default_factory=list)  # first, last loud frame
    replies_sent: list[float] = field(default_factory=list)
    dtmf: list[Dtmf] = field(default_factory=list)
    stopped_at: float | None = None
    _speaking: asyncio.Task[None] | None = None
    _pending_reply: asyncio.Task[None] | None = None

    def talking(self) -> bool:
        speaking = self._speaking is not None and not self._speaking.done()
        return speaking or any(name not in self.marks_echoed for name in self.marks_sent)

    async def handler(self, ws: ServerConnection) -> None:
        assert isinstance(parse_message(await ws.recv()), Connected)
        start = parse_message(await ws.recv())
        assert isinstance(start, Start)
        self.start = start
        self.streams += 1
        if self.token_secret is not None:
            claims = verify_call_token(self.token_secret, start.custom_parameters["token"])
            assert claims.call_sid == start.call_sid
        self._speaking = asyncio.create_task(self._say(ws, self.greeting, "greeting"))
        loud_frames = quiet_frames = 0
        first_loud = last_loud = 0.0
        async for raw in ws:
            now = time.monotonic()
            message = parse_message(raw)
            self.messages.append((now, message))
            if isinstance(message, Media):
                if dbfs(message.payload) > LOUD_DBFS:
                    if loud_frames == 0:
                        first_loud = now
                    loud_frames += 1
                    quiet_frames = 0
                    last_loud = now
                    if loud_frames == BARGE_IN_FRAMES and self.talking():
                        await self._barge_in(ws)
                elif loud_frames:
                    quiet_frames += 1
                    if quiet_frames == END_QUIET_FRAMES:
                        self.utterances.append((first_loud, last_loud))
                        loud_frames = 0
                        self._reply_later(ws, REPLY)
            elif isinstance(message, Mark):
                self.marks_echoed[message.name] = now
                if message.name == "greeting" and self.hang_up_after_greeting:
                    await ws.close(1000, "goodbye")
                    return
                if message.name == "greeting" and self.drop_streams:
                    self.drop_streams -= 1
                    await ws.close(1011, "node lost")
                    return
            elif isinstance(message, Dtmf):
                self.dtmf.append(message)
                self._reply_later(ws, DTMF_REPLY)  # after the last key of a burst
            elif isinstance(message, Stop):
                self.stopped_at = now
                return

    def _reply_later(self, ws: ServerConnection, text: str) -> None:
        if self._pending_reply is not None:
            self._pending_reply.cancel()

        async def reply() -> None:
            await asyncio.sleep(REPLY_DELAY_S)
            self._speaking = asyncio.create_task(self._say(ws, text, f"reply-{uuid.uuid4().hex}"))

        self._pending_reply = asyncio.create_task(reply())

    async def _barge_in(self, ws: ServerConnection) -> None:
        if self._speaking is not None:
            self._speaking.cancel()
        self.clears_sent.append(time.monotonic())
        await ws.send(clear_message(self.start.stream_sid if self.start else ""))

    async def _say(self, ws: ServerConnection, text: str, name: str) -> None:
        assert self.start is not None
        sid = self.start.stream_sid
        frames = self.speech[text]
        began = time.monotonic()
        if name != "greeting":
            self.replies_sent.append(began)
        chunk = 5 if self.paced else len(frames)
        for number, first in enumerate(range(0, len(frames), chunk)):
            if self.paced:  # stay one second ahead of playback, as a streaming TTS would
                await asyncio.sleep(max(0.0, began + number * 0.1 - 1.0 - time.monotonic()))
            for frame in frames[first : first + chunk]:
                await ws.send(media_message(sid, frame))
            label = name if first + chunk >= len(frames) else f"{name}-{number}"
            plays_until = began + (first + chunk) * 0.02
            self.marks_sent[label] = (time.monotonic(), plays_until)
            await ws.send(mark_message(sid, label))

    def inbound_media(self) -> list[tuple[float, Media]]:
        return [(t, m) for t, m in self.messages if isinstance(m, Media)]


@pytest.fixture
async def stub_agent(speech: dict[str, list[bytes]]) -> AsyncIterator[StubAgent]:
    agent = StubAgent(speech)

    async def handler(ws: ServerConnection) -> None:
        await agent.handler(ws)

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        agent.url = f"ws://127.0.0.1:{port}/twilio/media"
        yield agent


@dataclass
class StubApi:
    """`POST /twilio/voice` as the platform answers it, checking the signature as it does."""

    media_url: str
    reject: bool = False
    resumable: bool = False  # answer as the platform does: a <Redirect> after each stream
    reject_continue: bool = False
    url: str = ""
    calls: list[dict[str, str]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        query = scope["query_string"].decode()
        if scope["method"] == "GET" and scope["path"] == "/api/agents":
            return await self._send(send, 200, json.dumps([{"id": 7, "name": "Dental"}]).encode())
        if scope["method"] == "GET":
            return await self._send(send, 404, b'{"detail": "not found"}')
        form = dict(parse_qsl(body.decode()))
        signed_url = f"{PUBLIC_BASE}{scope['path']}" + (f"?{query}" if query else "")
        signature = dict(scope["headers"]).get(b"x-twilio-signature", b"").decode()
        if not RequestValidator(AUTH_TOKEN).validate(signed_url, form, signature):
            return await self._send(send, 403, b"invalid X-Twilio-Signature")
        self.calls.append({**form, "query": query})
        answer = VoiceResponse()
        continuing = scope["path"] == "/twilio/continue"
        if self.reject or (continuing and self.reject_continue):
            answer.say("Sorry, this number is not in service.")
            answer.hangup()
        else:
            connect = Connect()
            stream = connect.stream(url=self.media_url)
            stream.parameter(name="token", value="stub-token")
            stream.parameter(name="agent_id", value="7")
            if continuing:
                stream.parameter(name="resume", value="1")
            answer.append(connect)
            if self.resumable:
                answer.redirect(f"{PUBLIC_BASE}/twilio/continue?agent=7", method="POST")
        await self._send(send, 200, str(answer).encode(), b"application/xml")

    async def _send(self, send: Send, status: int, body: bytes, kind: bytes = b"json") -> None:
        headers = [(b"content-type", kind if b"/" in kind else b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def stub_api(stub_agent: StubAgent) -> AsyncIterator[StubApi]:
    api = StubApi(stub_agent.url)
    async with serve_asgi(api) as url:
        api.url = url
        yield api


def caller_for(api: StubApi, steps: list[dict[str, Any]], **kwargs: Any) -> SimulatedCaller:
    return SimulatedCaller(
        api.url,
        parse_script(steps),
        auth_token=AUTH_TOKEN,
        agent_id=7,
        public_base_url=PUBLIC_BASE,
        **kwargs,
    )


def agent_turns(report: CallReport) -> list[Any]:
    return [e for e in report.transcript if e.speaker == "agent"]


# --- whole calls against the stub agent -----------------------------------------------------


async def test_a_call_paces_frames_plays_marks_and_measures_latency(
    stub_agent: StubAgent, stub_api: StubApi
) -> None:
    caller = caller_for(stub_api, [{"say": BOOKING}])
    report = await caller.run()

    assert report.ended_by == "caller" and not report.closed_by_server
    assert stub_api.calls[0]["CallSid"] == caller.call_sid == report.call_sid
    assert stub_api.calls[0]["query"] == "agent=7"
    assert stub_agent.start is not None and stub_agent.start.call_sid == caller.call_sid
    assert stub_agent.start.custom_parameters == {"token": "stub-token", "agent_id": "7"}
    assert isinstance(stub_agent.messages[-1][1], Stop) and stub_agent.stopped_at is not None

    # Every frame 160 bytes, numbered and stamped as Twilio does, paced at 20 ms without drift.
    media = stub_agent.inbound_media()
    assert all(len(m.payload) == FRAME_BYTES and m.track == "inbound" for _, m in media)
    assert [m.chunk for _, m in media] == list(range(1, len(media) + 1))
    assert [m.timestamp_ms for _, m in media] == [20 * i for i in range(len(media))]
    sequence = [m.sequence_number for _, m in stub_agent.messages]
    assert sequence == list(range(2, len(sequence) + 2))  # `start` was 1
    elapsed = media[-1][0] - media[0][0]
    assert abs(elapsed - 0.02 * (len(media) - 1)) < 0.06, (elapsed, len(media))
    assert report.frames_sent == len(media)
    # Models load before ringing and transcription runs on a thread: the clock never stalls.
    assert report.max_send_lag_ms < 150, report.max_send_lag_ms
    assert report.custom_parameters == {"token": "<redacted>", "agent_id": "7"}

    # The greeting's mark comes back once its audio has played, not when it arrived.
    sent_at, plays_until = stub_agent.marks_sent["greeting"]
    echoed = stub_agent.marks_echoed["greeting"]
    assert plays_until - 0.03 <= echoed <= plays_until + 0.15
    assert echoed - sent_at > 2.0  # the whole greeting was sent at once

    # Latency: the caller's last audible word → the stub's answer (300 ms of quiet + 300 ms).
    (turn,) = report.turns
    first_loud, last_loud = stub_agent.utterances[0]
    stub_latency_ms = (stub_agent.replies_sent[0] - last_loud) * 1000
    assert turn.response_ms is not None
    assert abs(turn.response_ms - stub_latency_ms) < 40, (turn.response_ms, stub_latency_ms)
    expected_ms = (END_QUIET_FRAMES * 0.02 + REPLY_DELAY_S) * 1000
    assert expected_ms - 30 <= turn.response_ms < expected_ms + 150

    # The transcript: both agent turns in Whisper's words, the caller's line as scripted.
    greeting, reply = agent_turns(report)
    assert {"thank", "calling", "help"} <= set(words(greeting.text)), greeting.text
    assert {"opening", "tuesday"} <= set(words(reply.text)), reply.text
    assert reply.latency_ms == turn.response_ms and not reply.interrupted
    assert [e.speaker for e in report.transcript] == ["agent", "caller", "agent"]
    assert report.transcript[1].text == BOOKING
    assert report.notes == []


async def test_barge_in_clear_drops_buffered_audio_and_returns_marks_at_once(
    stub_agent: StubAgent, stub_api: StubApi
) -> None:
    stub_agent.greeting, stub_agent.paced = LONG_GREETING, True
    # No comma: the stub's 300 ms end of turn would hear one as the end of the line.
    line = "Actually I need to reschedule my appointment instead."
    report = await caller_for(stub_api, [{"say": line, "barge_in_after_ms": 1500}]).run()

    greeting, *rest = agent_turns(report)
    (turn,) = report.turns
    assert turn.kind == "barge_in" and turn.agent_talking_at_onset
    assert turn.onset_at_ms is not None
    into_greeting = turn.onset_at_ms - greeting.at_ms
    assert 1500 <= into_greeting < 1500 + 60, into_greeting  # the first sound, on time

    # The stub cleared after 200 ms of speech; the caller saw it, and the agent went quiet.
    assert len(stub_agent.clears_sent) == 1 and len(report.clears) == 1
    assert turn.clear_ms is not None and 180 <= turn.clear_ms < 350, turn.clear_ms
    # The stub streamed until it cleared, then sent nothing more.
    assert turn.agent_stopped_ms is not None
    assert turn.clear_ms - 120 < turn.agent_stopped_ms <= turn.clear_ms + 20
    assert greeting.interrupted
    # Heard: up to the clear. Sent by then: a second more. The rest never played.
    assert greeting.audio_ms < into_greeting + turn.clear_ms + 100, greeting.audio_ms

    # Marks still queued at the clear came back at once, long before their audio would have
    # played; marks whose audio had played came back as it played.
    cleared_at = stub_agent.clears_sent[0]
    pending = [n for n, (sent, _) in stub_agent.marks_sent.items() if sent < cleared_at]
    returned_by_clear = [m.name for m in report.marks if m.cleared]
    assert returned_by_clear, report.marks
    for name in returned_by_clear:
        assert stub_agent.marks_echoed[name] - cleared_at < 0.06
    last = returned_by_clear[-1]  # the stub kept a second of audio queued ahead
    assert stub_agent.marks_sent[last][1] - stub_agent.marks_echoed[last] > 0.5
    for name in set(pending) - set(returned_by_clear):
        assert stub_agent.marks_echoed[name] >= stub_agent.marks_sent[name][1] - 0.03

    # The agent answered the interruption in a turn of its own.
    (reply,) = rest
    assert {"opening", "tuesday"} <= set(words(reply.text)), reply.text
    assert turn.response_ms is not None and reply.latency_ms == turn.response_ms


async def test_dtmf_then_hanging_up_mid_sentence(stub_agent: StubAgent, stub_api: StubApi) -> None:
    report = await caller_for(stub_api, [{"dtmf": "1#"}, {"hangup": True, "after_ms": 600}]).run()

    assert [(d.digit, d.track) for d in stub_agent.dtmf] == [
        ("1", "inbound_track"),
        ("#", "inbound_track"),
    ]
    (turn,) = report.turns
    assert turn.kind == "dtmf" and turn.text == "DTMF 1#"
    assert turn.response_ms is not None and REPLY_DELAY_S * 1000 - 30 <= turn.response_ms < 500

    # `stop` went out 600 ms into the answer, which was cut off.
    assert stub_agent.stopped_at is not None
    into_reply = stub_agent.stopped_at - stub_agent.replies_sent[0]
    assert 0.6 <= into_reply < 0.6 + 0.1, into_reply
    assert report.ended_by == "caller" and report.steps_run == report.steps_total == 2
    greeting, reply = agent_turns(report)
    assert reply.interrupted and not greeting.interrupted
    assert 500 <= reply.audio_ms <= 700


async def test_the_agent_hanging_up_is_reported(stub_agent: StubAgent, stub_api: StubApi) -> None:
    stub_agent.hang_up_after_greeting = True
    report = await caller_for(stub_api, [{"say": BOOKING}, {"say": "Hello?"}]).run()

    assert report.ended_by == "agent" and report.closed_by_server
    assert (report.close_code, report.close_reason) == (1000, "goodbye")
    assert report.steps_run == 0 and stub_agent.stopped_at is None
    (greeting,) = agent_turns(report)
    assert not greeting.interrupted


async def test_a_responding_caller_chooses_each_line_from_the_agent_s_words(
    stub_agent: StubAgent, stub_api: StubApi
) -> None:
    heard: list[str] = []

    async def respond(agent_words: str) -> list[SayStep | HangupStep]:
        heard.append(agent_words)
        if "help" in words(agent_words):
            return [SayStep(say=BOOKING)]
        return []  # anything else: hang up

    caller = SimulatedCaller(
        stub_api.url,
        [],
        auth_token=AUTH_TOKEN,
        agent_id=7,
        public_base_url=PUBLIC_BASE,
        respond=respond,
    )
    report = await caller.run()

    # It heard the greeting, answered it, heard the reply, and hung up.
    assert len(heard) == 2
    assert {"thank", "calling", "help"} <= set(words(heard[0])), heard
    assert {"opening", "tuesday"} <= set(words(heard[1])), heard
    assert [e.speaker for e in report.transcript] == ["agent", "caller", "agent"]
    assert report.transcript[1].text == BOOKING
    (turn,) = report.turns
    assert turn.response_ms is not None and turn.response_ms < 1000
    assert report.ended_by == "caller" and report.steps_run == report.steps_total == 1
    assert len(stub_agent.utterances) == 1 and stub_agent.stopped_at is not None


def test_a_responding_caller_must_transcribe() -> None:
    with pytest.raises(ValueError, match="must transcribe"):
        SimulatedCaller("http://x", [], auth_token="t", agent_id=1, transcribe=False, respond=_no)


async def _no(_words: str) -> list[SayStep]:
    return []


async def test_answers_that_are_not_a_stream_are_refused(
    stub_agent: StubAgent, stub_api: StubApi
) -> None:
    stub_api.reject = True
    with pytest.raises(CallRejected, match="not in service") as rejected:
        await caller_for(stub_api, [{"say": BOOKING}]).run()
    assert rejected.value.said == "Sorry, this number is not in service."

    forged = SimulatedCaller(
        stub_api.url, parse_script([{"say": BOOKING}]), auth_token="wrong", agent_id=7
    )
    with pytest.raises(VoiceWebhookError, match="403") as refused:
        await forged.run()
    assert refused.value.status_code == 403
    assert stub_agent.start is None  # no stream was opened either time


# --- against the real API -------------------------------------------------------------------


async def test_the_real_api_connects_the_stream_with_its_token(
    settings: Settings, engine: Any, api_key: str, stub_agent: StubAgent
) -> None:
    media_base = stub_agent.url.removesuffix("/twilio/media").replace("ws://", "http://")
    api_settings = settings.model_copy(
        update={
            "public_base_url": PUBLIC_BASE,
            "realtime_public_url": media_base,
            "temporal_task_queue": f"calls-{uuid.uuid4().hex[:8]}",
        }
    )
    stub_agent.token_secret = settings.call_token_secret.get_secret_value()
    redis = aioredis.Redis.from_url(settings.redis_url or "")
    await forget_nodes(settings.redis_url)
    # The stub agent is the one realtime node in the registry.
    node = NodeRegistry(redis, node_id="stub", media_url=stub_agent.url, capacity=1, ttl_s=60)
    await node.heartbeat()
    async with app_client(api_settings, engine, api_key) as client:
        document = json.loads((EXAMPLES_DIR / "appointment_scheduler.json").read_text())
        created = await client.post("/api/agents", json=document)
        assert created.status_code == 201, created.text
        agent_id = created.json()["id"]
        caller = SimulatedCaller(
            "http://testserver",
            parse_script([{"hangup": True}]),
            auth_token=settings.twilio_auth_token.get_secret_value(),
            agent_id=agent_id,
            public_base_url=PUBLIC_BASE,
            http=client,
            transcribe=False,
        )
        report = await caller.run()
    await node.leave()
    await redis.aclose()
    assert stub_agent.start is not None and stub_agent.start.call_sid == caller.call_sid
    assert report.custom_parameters["agent_id"] == str(agent_id)
    assert report.ended_by == "caller" and stub_agent.stopped_at is not None


# --- the command ----------------------------------------------------------------------------


async def test_callwright_call_prints_a_json_report(
    stub_agent: StubAgent, stub_api: StubApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    from workers.caller.command import call

    app = typer.Typer()
    app.command()(call)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("PUBLIC_BASE_URL", PUBLIC_BASE)
    from core.settings import get_settings

    get_settings.cache_clear()
    args = ["--agent", "dental", "--say", BOOKING, "--api-url", stub_api.url]
    args += ["--api-key", "cw_test", "--json"]
    try:
        result = await asyncio.to_thread(CliRunner().invoke, app, args)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["report"]["ended_by"] == "caller"
    assert document["report"]["turns"][0]["response_ms"] > 0
    assert document["call"] is None  # the stub keeps no call records
    assert stub_api.calls[0]["query"] == "agent=7"


def test_the_command_explains_what_it_needs() -> None:
    import typer

    from workers.caller.command import call

    app = typer.Typer()
    app.command()(call)
    assert "--say" in CliRunner().invoke(app, ["--help"]).stdout
    missing = CliRunner().invoke(app, ["--say", "hi"])
    assert missing.exit_code == 2 and "--agent" in missing.output
    both = CliRunner().invoke(app, ["--agent-id", "1"])
    assert both.exit_code == 2 and "--say" in both.output


# --- the parts ------------------------------------------------------------------------------


def test_playback_echoes_marks_only_after_their_audio_and_clear_returns_them() -> None:
    buffer = PlaybackBuffer()
    buffer.add_audio(bytes(400), turn=0)  # 50 ms
    buffer.add_mark("first")
    buffer.add_audio(bytes(160), turn=0)
    buffer.add_mark("second")
    ticks = [buffer.tick() for _ in range(3)]
    assert [sum(len(p) for _, p in t.played) for t in ticks] == [160, 160, 80]
    assert all(not t.marks for t in ticks)
    fourth = buffer.tick()
    assert fourth.marks == ["first"] and fourth.playing  # the 50 ms ended; the next frame starts
    assert buffer.tick().marks == ["second"] and buffer.empty

    buffer.add_audio(bytes(1600), turn=1)
    buffer.add_mark("a")
    buffer.add_audio(bytes(1600), turn=1)
    buffer.add_mark("b")
    buffer.tick()
    assert buffer.buffered_ms == 380
    assert buffer.clear() == ["a", "b"] and buffer.empty and not buffer.tick().playing


def test_scripts_are_checked_step_by_step() -> None:
    steps = parse_script(
        {"steps": [{"say": "Hi"}, {"dtmf": "12#"}, {"silence": 2}, {"hangup": True}]}
    )
    assert [type(s).__name__ for s in steps] == ["SayStep", "DtmfStep", "SilenceStep", "HangupStep"]
    for bad, message in [
        ([{"sya": "Hi"}], "step 1: a step needs exactly one of"),
        ([{"say": "Hi"}, {"dtmf": "x"}], "step 2.dtmf"),
        ([{"say": "Hi", "after_ms": 5}], "step 1.after_ms"),
        ([], "non-empty list"),
    ]:
        with pytest.raises(ScriptError, match=re.escape(message)):
            parse_script(bad)


def test_speech_is_measured_from_its_audible_span(speech: dict[str, list[bytes]]) -> None:
    frames = speech[REPLY]
    first, last = audible_span(frames)
    assert 0 < first < 10 and len(frames) - 15 < last < len(frames) - 1
    assert all(dbfs(f) <= LOUD_DBFS for f in frames[last + 1 :])
    padded = CallerUtterance.from_frames(REPLY, [bytes([0xFF]) * FRAME_BYTES] * 20 + frames)
    assert padded.first_audible == 2 and padded.last_audible == last - first + 2
    assert len(padded.frames) == len(frames) - first + 2  # Piper's variable lead-in, trimmed
    twiml = parse_twiml(
        '<?xml version="1.0"?><Response><Connect><Stream url="wss://x/twilio/media">'
        '<Parameter name="token" value="t"/></Stream></Connect></Response>'
    )
    assert (twiml.url, twiml.parameters) == ("wss://x/twilio/media", {"token": "t"})


async def test_the_webhook_sink_records_and_verifies_deliveries() -> None:
    secret = "whsec_dGVzdC13ZWJob29rLXNpZ25pbmctc2VjcmV0LTEyMzQ="
    body = encode_body(event_envelope("call.completed", datetime.now(UTC), {"call_sid": "CA1"}))
    headers = signed_headers(secret, "msg_1", datetime.now(UTC), body)
    async with run_webhook_sink(secret=secret) as sink, httpx.AsyncClient() as http:
        assert (await http.post(f"{sink.url}/hooks", content=body, headers=headers)).is_success
        await http.post(f"{sink.url}/hooks", content=body.replace("CA1", "CA2"), headers=headers)
        arrived = await sink.wait_for("call.completed", timeout_s=5)
    assert arrived is not None and arrived.payload["data"] == {"call_sid": "CA1"}
    assert [w.verified for w in sink.received] == [True, False]


async def test_the_webhook_sink_checks_each_path_with_its_endpoint_secret() -> None:
    fallback = "whsec_dGVzdC13ZWJob29rLXNpZ25pbmctc2VjcmV0LTEyMzQ="
    endpoint = "whsec_ZW5kcG9pbnQtc2VjcmV0LW9mLXRoZS1jYWxsLXBhdGgtMzI="
    body = encode_body(event_envelope("call.completed", datetime.now(UTC), {"call_sid": "CA1"}))
    by_endpoint = signed_headers(endpoint, "msg_1", datetime.now(UTC), body)
    by_fallback = signed_headers(fallback, "msg_2", datetime.now(UTC), body)
    async with run_webhook_sink(secret=fallback) as sink, httpx.AsyncClient() as http:
        sink.secrets["/call"] = [endpoint]
        for path, headers in (("/call", by_endpoint), ("/call", by_fallback), ("/x", by_fallback)):
            await http.post(f"{sink.url}{path}", content=body, headers=headers)
    assert [w.verified for w in sink.received] == [True, False, True]


async def test_a_lost_stream_is_followed_by_the_next_twiml_verb_and_the_call_goes_on(
    stub_agent: StubAgent, stub_api: StubApi
) -> None:
    """Twilio runs the verb after <Connect> when the stream closes: the caller follows the
    <Redirect>, a new stream carries the call on, and the report measures the gap."""
    stub_api.resumable = True
    stub_agent.drop_streams = 1
    report = await caller_for(stub_api, [{"say": BOOKING}]).run()

    assert [c["query"] for c in stub_api.calls] == ["agent=7", "agent=7"]
    assert stub_api.calls[1]["CallStatus"] == "in-progress"
    assert stub_agent.streams == 2 and report.streams == 2
    assert stub_agent.start is not None and stub_agent.start.custom_parameters["resume"] == "1"
    assert report.ended_by == "caller" and report.close_code == 1000
    (reconnection,) = report.reconnections
    assert reconnection.lost_at_ms < reconnection.connected_at_ms
    assert reconnection.gap_ms is not None and 0 < reconnection.gap_ms < 3000
    # Heard: the greeting, the greeting again on the new stream, the reply to the booking.
    assert len(agent_turns(report)) == 3 and report.turns[0].response_ms is not None


async def test_a_redirect_that_hangs_up_ends_the_call_as_the_agents(
    stub_agent: StubAgent, stub_api: StubApi
) -> None:
    stub_api.resumable = True
    stub_agent.hang_up_after_greeting = True
    stub_api.reject_continue = True
    report = await caller_for(stub_api, [{"say": BOOKING}]).run()
    assert report.ended_by == "agent" and report.streams == 1
    assert report.twilio_said == ["Sorry, this number is not in service."]
