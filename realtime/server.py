"""The realtime media server: Twilio Media Streams on `/twilio/media`, metrics on `/metrics`.

One `CallSession` per stream. The stream's `start` must carry the call token the API put in the
TwiML (`<Parameter name="token">`); without a valid one, for this very call, the socket is
closed with 1008 (policy violation) before any audio is processed. The call's frozen agent is
read once from its workflow (`call_input` query) — at stream start, before the greeting, never
on the audio path.

A malformed frame (bad JSON or base64, an unknown event, an oversize payload, `media` before
`start`) is logged, counted in `callwright_bad_frames_total` and dropped: the call goes on, and
since every stream has its own session and task, no other call notices.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from temporalio.client import Client

from core.calls.tokens import InvalidCallToken, verify_call_token
from core.calls.types import CallInput, call_workflow_id
from core.settings import Settings
from realtime.metrics import ACTIVE_CALLS, BAD_FRAMES_TOTAL, CALLS_TOTAL, REGISTRY
from realtime.runtime import Engines
from realtime.session import CallSession
from realtime.signals import WorkflowSignals
from realtime.twilio_protocol import (
    Connected,
    Dtmf,
    Mark,
    Media,
    ProtocolError,
    Start,
    Stop,
    parse_message,
)

_LOGGER = logging.getLogger(__name__)

POLICY_VIOLATION: Final = 1008
TRY_AGAIN_LATER: Final = 1013
INTERNAL_ERROR: Final = 1011
CALL_INPUT_TIMEOUT_S: Final = 5.0
SIGNAL_DRAIN_S: Final = 10.0


@dataclass
class MediaServer:
    """The process's shared state: settings, engines, the Temporal client, live sessions."""

    settings: Settings
    engines: Engines
    temporal: Client
    sessions: dict[str, CallSession] = field(default_factory=dict)

    def app(self) -> Starlette:
        """The ASGI app (served by uvicorn)."""
        return Starlette(
            routes=[
                WebSocketRoute("/twilio/media", self.media_stream),
                Route("/metrics", self.metrics),
                Route("/health", self.health),
            ]
        )

    async def health(self, _request: Request) -> Response:
        """Liveness and load."""
        return JSONResponse(
            {"status": "ok", "active_calls": len(self.sessions), "max": self._capacity}
        )

    async def metrics(self, _request: Request) -> Response:
        """Prometheus exposition of the realtime metrics."""
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @property
    def _capacity(self) -> int:
        return self.settings.max_concurrent_calls

    async def media_stream(self, websocket: WebSocket) -> None:
        """One Twilio media stream, start to stop."""
        await websocket.accept()
        stream = _Stream(self, websocket)
        try:
            await stream.serve()
        finally:
            await stream.close()


class _Stream:
    """The receive loop of one socket: parse, check, dispatch to the call's session."""

    def __init__(self, server: MediaServer, websocket: WebSocket) -> None:
        self.server = server
        self.websocket = websocket
        self.session: CallSession | None = None
        self.stream_sid = ""
        self.outcome = "no_start"
        self._closer: asyncio.Task[None] | None = None

    async def serve(self) -> None:
        while True:
            try:
                message = await self.websocket.receive()
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
                self._bad_frame(exc.reason, str(exc))
                continue
            if not await self._dispatch(parsed):
                return

    async def _dispatch(self, message: object) -> bool:
        """Handle one message; False when the stream is over."""
        session = self.session
        if isinstance(message, Connected):
            return True
        if isinstance(message, Start):
            if session is not None:
                self._bad_frame("duplicate_start", "a second start on one stream")
                return True
            return await self._start(message)
        if session is None:
            self._bad_frame("before_start", f"{type(message).__name__.lower()} before start")
            return True
        if isinstance(message, Media):
            if message.track in ("inbound", "inbound_track"):
                session.on_media(message.payload)
        elif isinstance(message, Mark):
            session.on_mark(message.name)
        elif isinstance(message, Dtmf):
            session.on_dtmf(message.digit)
        elif isinstance(message, Stop):
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
            _LOGGER.warning("stream for call %s refused: %s", start.call_sid, exc)
            self.outcome = "refused"
            await self.websocket.close(POLICY_VIOLATION, "invalid call token")
            return False
        if len(server.sessions) >= server.settings.max_concurrent_calls:
            _LOGGER.warning("stream for call %s refused: at capacity", start.call_sid)
            self.outcome = "over_capacity"
            await self.websocket.close(TRY_AGAIN_LATER, "at capacity")
            return False
        workflow_id = call_workflow_id(start.call_sid)
        try:
            handle = server.temporal.get_workflow_handle(workflow_id)
            call = await asyncio.wait_for(
                handle.query("call_input", result_type=CallInput), CALL_INPUT_TIMEOUT_S
            )
        except Exception as exc:  # noqa: BLE001 - any failure here means this call cannot run
            _LOGGER.error(
                "call %s: could not load its agent from %s: %s", start.call_sid, workflow_id, exc
            )
            self.outcome = "no_workflow"
            await self.websocket.close(INTERNAL_ERROR, "call not found")
            return False

        parts = server.engines.new_call(call)
        self.stream_sid = start.stream_sid
        session = CallSession(
            call=call,
            stream_sid=start.stream_sid,
            send=self._send,
            brain=parts.brain,
            detector=parts.detector,
            stt=server.engines.stt,
            tts=parts.tts,
            signals=WorkflowSignals.for_call(server.temporal, workflow_id),
            settings=server.engines.session,
        )
        self.session = session
        server.sessions[start.stream_sid] = session
        ACTIVE_CALLS.inc()
        _LOGGER.info("call %s: stream %s started", start.call_sid, start.stream_sid)
        await session.start()
        self._closer = asyncio.create_task(self._close_when_finished(session), name="closer")
        return True

    async def _close_when_finished(self, session: CallSession) -> None:
        await session.finished.wait()
        if session.end_reason != "caller_hung_up":
            self.outcome = session.end_reason or "completed"
            # Closing the stream ends <Connect>; with no TwiML after it, Twilio hangs up.
            await self._close_socket(1000, "call ended")

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

    def _bad_frame(self, reason: str, detail: str) -> None:
        BAD_FRAMES_TOTAL.labels(reason=reason).inc()
        _LOGGER.warning(
            "stream %s: dropped a bad frame (%s): %s", self.stream_sid or "-", reason, detail[:200]
        )

    async def close(self) -> None:
        session = self.session
        if self._closer is not None:
            self._closer.cancel()
        if session is not None:
            if session.end_reason is None:
                self.outcome = "stream_closed"
            await session.stop("stream_closed")
            await session.drain_signals(SIGNAL_DRAIN_S)
            self.server.sessions.pop(self.stream_sid, None)
            ACTIVE_CALLS.dec()
        CALLS_TOTAL.labels(outcome=self.outcome).inc()
        await self._close_socket(1000, "bye")
