"""The realtime media server: Twilio Media Streams on `/twilio/media`, metrics on `/metrics`.

One `CallSession` per stream. The stream's `start` must carry the call token the API put in the
TwiML (`<Parameter name="token">`); without a valid one, for this very call, the socket is
closed with 1008 (policy violation) before any audio is processed. The call's frozen agent is
read once from its workflow (`call_input` query) — at stream start, before the greeting, never
on the audio path.

Before any of that the socket must get past `realtime.stream_guard`: a Twilio-signed upgrade, a
cap on sockets still waiting for their `start` and a deadline for it, a token used once only.
A malformed frame (bad JSON or base64, an unknown event, an oversize payload, `media` before
`start`, audio faster than real time) is counted in `callwright_bad_frames_total` under a fixed
reason, logged (rate-limited) and dropped: the call goes on, and since every stream has its own
session and task, no other call notices; after MEDIA_MAX_BAD_FRAMES the socket is closed.
A typed caller turn (`text`, Callwright's own event) is taken only from a stream whose call
token says it is the web console's test call; from any other it is such a bad frame.

With REDIS_URL the process is a node of a fleet (`join`): it registers its media URL and
capacity in Redis and heartbeats, so the API connects calls only to nodes with room; events not
yet acknowledged by Temporal are spooled there. A stream whose `start` carries `resume` picks up
a call another node lost: the spool it left is re-sent, the call so far is read from the
workflow, and the session goes on from there. On SIGTERM (`drain`) the node stops taking
streams, lets its calls finish for a while, then hands the rest over (the stream closes without
ending the call; Twilio's next verb reconnects it elsewhere): a deploy drops no call.

`POST /voice/preview` speaks an admin's test phrase in an agent's voice for the builder
(`realtime.preview`): only with the API's preview token, one at a time, never while draining
or full of calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import redis.asyncio as aioredis
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from temporalio.client import Client

from core.agents.voice_preview import PREVIEW_PATH
from core.calls.nodes import NO_CAPACITY, NodeRegistry, mark_call_over
from core.calls.spool import SignalSpool
from core.calls.token_uses import TokenUses
from core.calls.tokens import InvalidCallToken, verify_call_token
from core.calls.types import (
    CallEnded,
    CallInput,
    CallResume,
    FieldEvent,
    TurnEvent,
    call_workflow_id,
)
from core.settings import Settings
from realtime.metrics import ACTIVE_CALLS, BAD_FRAMES_TOTAL, CALLS_TOTAL, REGISTRY
from realtime.preview import VoicePreview
from realtime.runtime import Engines
from realtime.session import CallSession, SessionSettings
from realtime.signals import WorkflowSignals, resend_spooled
from realtime.stream_guard import LogLimiter, RealTimeBudget, signed_upgrade
from realtime.twilio_protocol import (
    BadFrame,
    Connected,
    Dtmf,
    Mark,
    Media,
    ProtocolError,
    Start,
    Stop,
    Text,
    parse_message,
)

_LOGGER = logging.getLogger(__name__)

POLICY_VIOLATION: Final = 1008
SERVICE_RESTART: Final = 1012
TRY_AGAIN_LATER: Final = 1013
INTERNAL_ERROR: Final = 1011
CALL_INPUT_TIMEOUT_S: Final = 5.0
SIGNAL_DRAIN_S: Final = 10.0
# Before the agent's last words close the stream, its `call_ended` must reach the workflow:
# Twilio asks /twilio/continue at once, and a call still live there would be reconnected.
END_SIGNAL_WAIT_S: Final = 5.0
# Draining hands a call over at a quiet moment (nobody speaking, no answer on its way), waiting
# at most this long for one.
QUIET_WAIT_S: Final = 5.0
# Bad-frame lines one socket may log; after that, only the count at its close.
BAD_FRAME_LINES_PER_SOCKET: Final = 3
# Warnings about refused or misbehaving sockets, for the whole process: a flood of sockets
# cannot flood the log.
_REFUSALS_LOG: Final = LogLimiter(per_s=2.0, burst=20.0)


def _warn(message: str, *args: object) -> None:
    """A warning about a socket that misbehaves, rate-limited process-wide."""
    _REFUSALS_LOG.warning(_LOGGER, message, *args)


def _short(value: str) -> str:
    """A peer-supplied id, bounded for a log line."""
    return value[:48]


@dataclass
class MediaServer:
    """The process's shared state: settings, engines, the Temporal client, live sessions."""

    settings: Settings
    engines: Engines
    temporal: Client
    sessions: dict[str, CallSession] = field(default_factory=dict)
    node_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    draining: bool = False
    redis: aioredis.Redis | None = None
    registry: NodeRegistry | None = None
    token_uses: TokenUses = field(default_factory=lambda: TokenUses(None))
    pending: int = 0
    """Sockets accepted whose `start` has not been checked yet."""
    _heartbeat: asyncio.Task[None] | None = None
    _preview: VoicePreview | None = None

    async def join(self, redis_url: str | None, media_url: str) -> None:
        """Register this node (its media URL, capacity) in Redis and keep it alive; without a
        Redis URL the node works alone, with no spool."""
        if not redis_url:
            _LOGGER.info("no REDIS_URL: a single realtime node, signals held in memory")
            return
        self.redis = aioredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.token_uses.redis = self.redis
        self.registry = NodeRegistry(
            self.redis, node_id=self.node_id, media_url=media_url, capacity=self._capacity
        )
        self._heartbeat = asyncio.create_task(
            self.registry.run(draining=lambda: self.draining), name="node-heartbeat"
        )
        _LOGGER.info("realtime node %s joined at %s", self.node_id, media_url)

    async def leave(self) -> None:
        """Deregister (after a drain) and close the Redis connection."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.wait([self._heartbeat], timeout=2)
        if self.registry is not None:
            try:
                await self.registry.leave()
            except Exception as exc:  # noqa: BLE001 - its heartbeat expires on its own
                _LOGGER.warning("could not deregister node %s: %s", self.node_id, exc)
        if self.redis is not None:
            await self.redis.aclose()

    async def drain(self, finish_within_s: float) -> None:
        """Stop taking streams; let calls finish for `finish_within_s`, then hand each one
        over at a quiet moment. Returns when no call is left here."""
        self.draining = True
        _LOGGER.info(
            "draining: %d calls, finishing within %.0f s", len(self.sessions), finish_within_s
        )
        if self.registry is not None:
            try:
                await self.registry.heartbeat(draining=True)  # no new call is sent here
            except Exception as exc:  # noqa: BLE001 - the API also skips a node that left
                _LOGGER.warning("could not mark node %s draining: %s", self.node_id, exc)
        await _poll_until(lambda: not self.sessions, finish_within_s)
        await asyncio.gather(*(self._hand_over(s) for s in list(self.sessions.values())))
        await _poll_until(lambda: not self.sessions, None)  # each stream's close removes it

    async def _hand_over(self, session: CallSession) -> None:
        await _poll_until(lambda: session.quiet, QUIET_WAIT_S)
        _LOGGER.info("call %s: handed over (draining)", session.call.call_sid)
        await session.hand_over("draining")

    def app(self) -> Starlette:
        """The ASGI app (served by uvicorn)."""
        return Starlette(
            routes=[
                WebSocketRoute("/twilio/media", self.media_stream),
                Route("/metrics", self.metrics),
                Route("/health", self.health),
                Route(PREVIEW_PATH, self.voice_preview, methods=["POST"]),
            ]
        )

    async def health(self, _request: Request) -> Response:
        """Liveness and load; 503 while draining, so a load balancer sends nothing new."""
        body = {
            "status": "draining" if self.draining else "ok",
            "node": self.node_id,
            "active_calls": len(self.sessions),
            "max": self._capacity,
        }
        return JSONResponse(body, status_code=503 if self.draining else 200)

    async def metrics(self, _request: Request) -> Response:
        """Prometheus exposition of the realtime metrics."""
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    async def voice_preview(self, request: Request) -> Response:
        """A test phrase in a voice, as a caller would hear it (`realtime.preview`); only with
        the API's preview token, and never while the node drains or is full of calls."""
        if self._preview is None:
            self._preview = VoicePreview(
                secret=self.settings.call_token_secret.get_secret_value(),
                tts_for=lambda call: self.engines.tts_for(call),
                token_uses=self.token_uses,
                refusal=self._preview_refusal,
            )
        return await self._preview.handle(request)

    def _preview_refusal(self) -> str | None:
        if self.draining:
            return "draining"
        if len(self.sessions) >= self._capacity:
            return "at capacity"
        return None

    @property
    def _capacity(self) -> int:
        return self.settings.max_concurrent_calls

    async def media_stream(self, websocket: WebSocket) -> None:
        """One Twilio media stream, start to stop."""
        if not signed_upgrade(self.settings, websocket):
            _warn("refused a media socket: no valid X-Twilio-Signature on its upgrade")
            CALLS_TOTAL.labels(outcome="unsigned").inc()
            await websocket.close(POLICY_VIOLATION)  # before accepting: an HTTP 403
            return
        if self.pending >= self.settings.media_max_pending_sockets:
            _warn("refused a media socket: %d sockets already wait for their start", self.pending)
            CALLS_TOTAL.labels(outcome="too_many_pending").inc()
            await websocket.close(TRY_AGAIN_LATER)
            return
        self.pending += 1
        stream = _Stream(self, websocket)
        try:
            await websocket.accept()
            await stream.serve()
        finally:
            stream.authenticated()
            await stream.close()


class _Stream:
    """The receive loop of one socket: parse, check, dispatch to the call's session."""

    def __init__(self, server: MediaServer, websocket: WebSocket) -> None:
        self.server = server
        self.websocket = websocket
        self.session: CallSession | None = None
        self.stream_sid = ""
        self.console = False
        """The call token says this is the web console's test call (typed turns allowed)."""
        self.outcome = "no_start"
        self.bad_frames = 0
        self.budget = RealTimeBudget()
        self._pending = True
        self._closer: asyncio.Task[None] | None = None

    def authenticated(self) -> None:
        """The socket no longer counts as waiting for its `start` (it got one, or it closed)."""
        if self._pending:
            self._pending = False
            self.server.pending -= 1

    async def serve(self) -> None:
        deadline = time.monotonic() + self.server.settings.media_start_timeout_s
        while True:
            try:
                if self.session is None:
                    async with asyncio.timeout(max(deadline - time.monotonic(), 0)):
                        message = await self.websocket.receive()
                else:
                    message = await self.websocket.receive()
            except TimeoutError:
                _warn("media socket closed: no valid start within its deadline")
                self.outcome = "start_timeout"
                await self._close_socket(POLICY_VIOLATION, "no start in time")
                return
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text") if message.get("text") is not None else message.get("bytes")
            if raw is None:
                continue
            try:
                parsed = parse_message(raw)
            except ProtocolError as exc:
                if not await self._bad_frame(exc.kind, str(exc)):
                    return
                continue
            if not await self._dispatch(parsed):
                return

    async def _dispatch(self, message: object) -> bool:
        """Handle one message; False when the stream is over."""
        session = self.session
        if session is not None and not isinstance(message, Media) and not self.budget.other():
            return await self._bad_frame(BadFrame.TOO_FAST, "messages too fast")
        if isinstance(message, Connected):
            return True
        if isinstance(message, Start):
            if session is not None:
                return await self._bad_frame(BadFrame.DUPLICATE_START, "a second start")
            return await self._start(message)
        if session is None:
            return await self._bad_frame(
                BadFrame.BEFORE_START, f"{type(message).__name__.lower()} before start"
            )
        if isinstance(message, Media):
            if not self.budget.media(len(message.payload)):
                return await self._bad_frame(BadFrame.TOO_FAST, "audio ahead of real time")
            if message.track in ("inbound", "inbound_track"):
                session.on_media(message.payload)
        elif isinstance(message, Mark):
            session.on_mark(message.name)
        elif isinstance(message, Dtmf):
            session.on_dtmf(message.digit)
        elif isinstance(message, Text):
            if not self.console:
                # Twilio never types: on a phone call's stream this is no event of its own.
                return await self._bad_frame(BadFrame.UNKNOWN_EVENT, "text on a phone stream")
            session.on_text(message.text)
        elif isinstance(message, Stop):
            # Twilio sends `stop` when the call itself ends (the caller hung up).
            self.outcome = "caller_hung_up" if session.end_reason is None else session.end_reason
            await session.stop("caller_hung_up")
            return False
        return True

    async def _start(self, start: Start) -> bool:
        server = self.server
        token = start.custom_parameters.get("token", "")
        try:
            claims = verify_call_token(server.settings.call_token_secret.get_secret_value(), token)
            if claims.call_sid != start.call_sid:
                raise InvalidCallToken("the token is for another call")
        except InvalidCallToken as exc:
            _warn("stream for call %s refused: %s", _short(start.call_sid), exc)
            self.outcome = "refused"
            await self.websocket.close(POLICY_VIOLATION, "invalid call token")
            return False
        if not await server.token_uses.claim(token):
            _warn("stream for call %s refused: its token was used already", _short(start.call_sid))
            self.outcome = "token_reused"
            await self.websocket.close(POLICY_VIOLATION, "call token already used")
            return False
        if server.draining:
            # Closing the stream runs Twilio's next verb: /twilio/continue connects the call
            # to another node.
            _LOGGER.info("stream for call %s refused: draining", start.call_sid)
            self.outcome = "draining"
            await self.websocket.close(SERVICE_RESTART, "draining")
            return False
        if len(server.sessions) >= server.settings.max_concurrent_calls:
            _LOGGER.warning("stream for call %s refused: at capacity", start.call_sid)
            self.outcome = "over_capacity"
            if not start.custom_parameters.get("resume"):
                # A new call: /twilio/continue, Twilio's next verb, tells the caller we're busy.
                await _quietly(
                    server.temporal.get_workflow_handle(call_workflow_id(start.call_sid)).signal(
                        "call_ended", CallEnded(reason=NO_CAPACITY)
                    ),
                    "end a call refused at capacity",
                )
            await self.websocket.close(TRY_AGAIN_LATER, "at capacity")
            return False
        workflow_id = call_workflow_id(start.call_sid)
        handle = server.temporal.get_workflow_handle(workflow_id)
        spool = SignalSpool(server.redis, start.call_sid) if server.redis is not None else None
        resumed: CallResume | None = None
        try:
            call = await asyncio.wait_for(
                handle.query("call_input", result_type=CallInput), CALL_INPUT_TIMEOUT_S
            )
            if start.custom_parameters.get("resume"):
                resumed = await asyncio.wait_for(_pick_up(handle, spool), CALL_INPUT_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - any failure here means this call cannot run
            _LOGGER.error(
                "call %s: could not load it from %s: %s", start.call_sid, workflow_id, exc
            )
            self.outcome = "no_workflow"
            await self.websocket.close(INTERNAL_ERROR, "call not found")
            return False

        parts = server.engines.new_call(call)
        timing = server.engines.session
        self.stream_sid = start.stream_sid
        self.console = claims.console
        session = CallSession(
            call=call,
            stream_sid=start.stream_sid,
            send=self._send,
            brain=parts.brain,
            detector=parts.detector,
            stt=server.engines.stt,
            tts=parts.tts,
            signals=WorkflowSignals.for_call(server.temporal, workflow_id, spool),
            settings=_console_timing(timing) if claims.console else timing,
            resume=resumed,
            node_id=server.node_id,
            context=parts.context,
        )
        self.session = session
        self.authenticated()
        self.budget = RealTimeBudget()  # the clock of its audio starts now
        server.sessions[start.stream_sid] = session
        ACTIVE_CALLS.inc()
        if server.registry is not None:
            await _quietly(server.registry.hold(start.call_sid), "hold the call")
        _LOGGER.info(
            "call %s: stream %s %s",
            start.call_sid,
            start.stream_sid,
            f"resumed at turn {resumed.last_seq}" if resumed else "started",
        )
        await session.start()
        self._closer = asyncio.create_task(self._close_when_finished(session), name="closer")
        return True

    async def _close_when_finished(self, session: CallSession) -> None:
        await session.finished.wait()
        if session.end_reason != "caller_hung_up":
            self.outcome = session.end_reason or "completed"
            # Closing the stream runs Twilio's next verb, /twilio/continue, which hangs up a
            # call the workflow knows is over: so the workflow must know first.
            await session.drain_signals(END_SIGNAL_WAIT_S)
            handed_over = (session.end_reason or "").startswith("handed_over")
            if not handed_over and self.server.redis is not None:
                await _quietly(
                    mark_call_over(self.server.redis, session.call.call_sid, self.outcome),
                    "mark the call over",
                )
            await self._close_socket(SERVICE_RESTART if handed_over else 1000, "call ended")

    async def _send(self, text: str) -> None:
        if self.websocket.application_state is WebSocketState.CONNECTED:
            try:
                await self.websocket.send_text(text)
            except (WebSocketDisconnect, RuntimeError):
                pass  # the caller is gone; the receive loop sees it and stops the session

    async def _close_socket(self, code: int, reason: str) -> None:
        if self.websocket.application_state is WebSocketState.CONNECTED:
            try:
                await self.websocket.close(code, reason)
            except (WebSocketDisconnect, RuntimeError):
                pass  # the peer left first: nothing to close

    async def _bad_frame(self, kind: BadFrame, detail: str) -> bool:
        """Count and drop a bad frame; False (the socket closed) once there were too many."""
        BAD_FRAMES_TOTAL.labels(reason=kind.value).inc()
        self.bad_frames += 1
        limit = self.server.settings.media_max_bad_frames
        if self.bad_frames <= BAD_FRAME_LINES_PER_SOCKET:
            _warn(
                "stream %s: dropped a bad frame (%s): %s", self.stream_sid or "-", kind, detail[:80]
            )
        if self.bad_frames < limit:
            return True
        _warn("stream %s: closed after %d bad frames", self.stream_sid or "-", self.bad_frames)
        self.outcome = "bad_frames"
        await self._close_socket(POLICY_VIOLATION, "too many bad frames")
        return False

    async def close(self) -> None:
        session = self.session
        if self._closer is not None:
            self._closer.cancel()
        if session is not None:
            if session.end_reason is None:
                # The socket closed with no `stop`: the connection was lost, not the call.
                # Twilio's next verb reconnects it if it is still up.
                self.outcome = "stream_lost"
                await session.hand_over("stream_lost")
            await session.stop("stream_closed")
            await session.drain_signals(SIGNAL_DRAIN_S)
            self.server.sessions.pop(self.stream_sid, None)
            ACTIVE_CALLS.dec()
            if self.server.registry is not None:
                await _quietly(self.server.registry.release(session.call.call_sid), "release")
        CALLS_TOTAL.labels(outcome=self.outcome).inc()
        await self._close_socket(1000, "bye")


# A person typing the caller's lines in the console takes longer than a caller takes to speak:
# the agent nudges after this much quiet there, not after the phone's few seconds.
CONSOLE_REPROMPT_S: Final = 45.0


def _console_timing(session: SessionSettings) -> SessionSettings:
    return dataclasses.replace(
        session, reprompt_after_s=max(session.reprompt_after_s, CONSOLE_REPROMPT_S)
    )


async def _quietly(operation: Any, what: str) -> None:
    """A registry write: its failure is logged, never the call's problem (heartbeats expire)."""
    try:
        await operation
    except Exception as exc:  # noqa: BLE001
        _LOGGER.warning("could not %s: %s", what, exc)


async def _pick_up(handle: Any, spool: SignalSpool | None) -> CallResume:
    """The call so far, for a stream that resumes it: what the lost node left in the spool is
    re-sent, then merged into the workflow's record (whose query may predate those signals)."""
    sent = await resend_spooled(handle, spool) if spool is not None else []
    resume: CallResume = await handle.query("resume", result_type=CallResume)
    turns = {t.seq: t for t in resume.transcript}
    captured = dict(resume.captured)
    for payload in sent:
        if isinstance(payload, TurnEvent):
            turns.setdefault(payload.seq, payload)
        elif isinstance(payload, FieldEvent):
            captured[payload.name] = payload.value
    resume.transcript = [turns[s] for s in sorted(turns)]
    resume.captured = captured
    resume.last_seq = max([resume.last_seq, *turns])
    return resume


async def _poll_until(condition: Callable[[], bool], limit_s: float | None) -> None:
    """Wait until `condition()` holds, or `limit_s` passes. Polled: the states it reads (live
    sessions, a session's quiet) change in many places, none worth an event of its own."""
    deadline = None if limit_s is None else time.monotonic() + limit_s
    while not condition() and (deadline is None or time.monotonic() < deadline):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
