"""`WS /api/console/call`: the web console's test call, through the very path a phone call takes.

The browser talks to an agent by microphone or by typing. The API stands in for Twilio: it
starts the call's workflow as `POST /twilio/voice` does, reserves a slot on a realtime node,
opens the node's media WebSocket with a console call token and speaks Twilio Media Streams to
it (Twilio's side, `core.calls.twilio_peer`, as the simulated caller speaks it), relaying both
ways. So the call runs the same `CallSession` (VAD, STT, brain, TTS, barge-in, workflow
signals) as any phone call.

Browser → API. First, within START_TIMEOUT_S, a text frame
`{"type": "start", "key": "<API key>", "agent_id": <int>}` (the key never goes in the URL).
The key must hold `calls:write` (or `admin`) and the agent belong to its organization; else
`{"type": "error", "field": "key" | "agent_id" | null, "message": …}` and a close with 4401
(bad key), 4403 (scope), 4404 (no such agent), 4400 (malformed first message), 4429 (the key's
requests per minute, or the organization's calls per hour, are used up: the same limits as the
HTTP API and `POST /api/calls`, a console call counting as one request and one call) or 4503 (no
realtime node has room, or Temporal, the database or the node did not answer). Then:
- binary frames: caller audio, μ-law 8 kHz mono, a multiple of 160 bytes (20 ms each, sent on
  as one `media` message each); any other length is logged and dropped;
- `{"type": "say", "text": …}` (1 to 1000 characters): a typed caller turn (our `text` event);
- `{"type": "dtmf", "digit": "5"}`, `{"type": "mark", "name": …}` (the browser played up to
  that mark), `{"type": "hangup"}` (`stop`: the caller hung up).
A message that cannot be used gets an `error` message; the socket stays open.

API → browser. `{"type": "call", "call_sid", "workflow_id", "temporal_ui_url"}` once the stream
has started; the agent's audio as binary frames (μ-law 8 kHz); `{"type": "mark", "name"}` (to
echo once played) and `{"type": "clear"}` (barge-in: drop queued audio); finally
`{"type": "ended", "reason"}` when the stream closes, then close 1000.

The browser leaving ends the call as a hang-up does (`stop`). A console call has a CallSid of
its own shape (`CA` + 32 hex), direction inbound, no numbers, and "console" as the caller in
the workflow's memo. A stream the node loses ends the call (no resume as Twilio's `<Redirect>`
gives a phone call).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketState
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from api.deps import OverLimit, hit_request_limit
from api.routes.calls import hit_call_quota, start_call_workflow, temporal_ui_url
from api.routes.twilio import call_state, choose_node, end_call
from core.agents.builder import AgentBuilder
from core.agents.spec import ROW_ID_MAX
from core.auth import Scope, allows, authenticate
from core.calls.nodes import NO_CAPACITY
from core.calls.tokens import issue_call_token
from core.calls.twilio_peer import (
    DTMF_KEYS,
    FRAME_BYTES,
    FRAME_MS,
    MAX_TEXT_CHARS,
    ServerMark,
    ServerMedia,
    ServerProtocolError,
    connected_message,
    dtmf_message,
    inbound_media_message,
    mark_echo_message,
    new_sid,
    parse_server_message,
    start_message,
    stop_message,
    text_message,
)
from core.calls.types import CallInput, Direction
from core.db.models import Organization
from core.errors import NotFoundError
from core.settings import Settings
from core.twilio_signature import twilio_signature

logger = logging.getLogger(__name__)
router = APIRouter(tags=["console"])

PATH: Final = "/api/console/call"
START_TIMEOUT_S: Final = 10.0
MAX_AUDIO_BYTES: Final = 100 * FRAME_BYTES
"""Two seconds in one binary frame: the realtime node drops audio further ahead of the clock."""
MAX_CONTROL_BYTES: Final = 4096
OPEN_TIMEOUT_S: Final = 10.0
FIRST_MESSAGE_WAIT_S: Final = 10.0
"""How long the stream's first message (the greeting) is awaited before `call` is sent anyway:
a node that refuses the stream closes it well within that."""
CLOSE_WAIT_S: Final = 5.0
"""After `stop`, how long the node has to close the stream (cancellation has a time limit)."""
CONSOLE_CALLER: Final = "console"
ACCOUNT_SID: Final = "ACconsole"
"""Twilio's account id in `start` and `stop`; a console call has none, and the field is required."""

BAD_REQUEST: Final = 4400
BAD_KEY: Final = 4401
NO_SCOPE: Final = 4403
NO_AGENT: Final = 4404
OVER_LIMIT: Final = 4429
UNAVAILABLE: Final = 4503


class _Refused(Exception):
    """The call cannot start: the `error` message to send and the close code."""

    def __init__(self, code: int, field: str | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


class ConsoleStart(BaseModel):
    """The first message: who calls (an API key) and which agent."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["start"]
    key: str = Field(min_length=1, max_length=256)
    agent_id: int = Field(ge=1, le=ROW_ID_MAX, strict=True)


class ConsoleSay(BaseModel):
    """A typed caller turn."""

    type: Literal["say"]
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class ConsoleDtmf(BaseModel):
    """A key pressed on the console's keypad."""

    type: Literal["dtmf"]
    digit: str = Field(min_length=1, max_length=1)

    @field_validator("digit")
    @classmethod
    def _a_key(cls, digit: str) -> str:
        if digit not in DTMF_KEYS:
            raise ValueError(f"a keypad key: one of {''.join(sorted(DTMF_KEYS))}")
        return digit


class ConsoleMark(BaseModel):
    """The browser has played the agent's audio up to this mark."""

    type: Literal["mark"]
    name: str = Field(min_length=1, max_length=256)


class ConsoleHangup(BaseModel):
    """The caller hung up."""

    type: Literal["hangup"]


ConsoleMessage = Annotated[
    ConsoleSay | ConsoleDtmf | ConsoleMark | ConsoleHangup, Field(discriminator="type")
]
_MESSAGE: Final = TypeAdapter[ConsoleMessage](ConsoleMessage)


@dataclass(frozen=True)
class _PlacedCall:
    """A call whose workflow runs, with a slot on a node: what the stream needs."""

    call: CallInput
    workflow_id: str
    media_url: str
    token: str
    client: Client


@router.websocket(PATH)
async def console_call(websocket: WebSocket) -> None:
    """One test call from the web console (see the module docstring for the protocol)."""
    await websocket.accept()
    try:
        start = await _receive_start(websocket)
        placed = await _place_call(websocket, start)
        realtime = await _open_stream(websocket, placed)
    except _Refused as refused:
        await _refuse(websocket, refused)
        return
    except WebSocketDisconnect:
        return  # the browser left before its call started
    await _ConsoleCall(websocket, realtime, placed).run()


async def _refuse(websocket: WebSocket, refused: _Refused) -> None:
    if websocket.application_state is not WebSocketState.CONNECTED:
        return
    try:
        await websocket.send_json(
            {"type": "error", "field": refused.field, "message": refused.message}
        )
        await websocket.close(refused.code, refused.message[:120])
    except (WebSocketDisconnect, RuntimeError):
        pass  # the browser left first


async def _receive_start(websocket: WebSocket) -> ConsoleStart:
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            message = await websocket.receive()
    except TimeoutError:
        raise _Refused(BAD_REQUEST, None, "no start message in time") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None or len(text) > MAX_CONTROL_BYTES:
        raise _Refused(BAD_REQUEST, None, "the first message must be a start message (JSON)")
    try:
        return ConsoleStart.model_validate_json(text)
    except ValidationError as exc:
        # A field is named only when the rest is a start message: `{"type": "say"}` is not a
        # start with a bad key.
        fields = {str(e["loc"][0]) if e["loc"] else "" for e in exc.errors()}
        field = fields.pop() if len(fields) == 1 and fields <= {"key", "agent_id"} else None
        raise _Refused(
            BAD_REQUEST, field, 'expected {"type": "start", "key": …, "agent_id": …}'
        ) from None


async def _place_call(websocket: WebSocket, start: ConsoleStart) -> _PlacedCall:
    """Check the key and the agent, start the workflow and reserve a node, as `/twilio/voice`
    does for a phone call."""
    state = websocket.app.state
    settings: Settings = state.settings
    call_sid = new_sid("CA")
    try:
        async with state.sessions() as session:
            key = await authenticate(session, start.key)
            if key is None:
                raise _Refused(BAD_KEY, "key", "unknown, revoked or expired API key")
            organization = await session.get(Organization, key.organization_id)
            assert organization is not None  # a key goes with its organization
            _within(await hit_request_limit(state.limiter, key, organization))
            if not allows(key.scopes, Scope.CALLS_WRITE):
                raise _Refused(NO_SCOPE, "key", "this API key lacks the `calls:write` scope")
            builder = AgentBuilder(session, key.organization_id, cache=state.cache)
            try:
                # By the key's organization first: another organization's agent is unknown.
                await builder.load_agent(start.agent_id)
            except NotFoundError:
                raise _Refused(NO_AGENT, "agent_id", f"no agent {start.agent_id}") from None
            # Counted once the call could start, as `POST /api/calls` counts it.
            _within(await hit_call_quota(state.limiter, organization))
            call = await builder.call_input(
                start.agent_id, call_sid=call_sid, direction=Direction.INBOUND, test=True
            )
    except (SQLAlchemyError, OSError) as exc:
        logger.error("console call: the database did not answer: %s", exc)
        raise _Refused(UNAVAILABLE, None, "the database did not answer; try again") from exc
    try:
        client: Client = await state.temporal.get()
        workflow_id = await start_call_workflow(
            client,
            call,
            task_queue=settings.temporal_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            caller=CONSOLE_CALLER,
        )
    except (RPCError, OSError, TimeoutError, RuntimeError) as exc:
        logger.error("console call %s: Temporal did not answer: %s", call_sid, exc)
        raise _Refused(UNAVAILABLE, None, "Temporal did not answer; try again") from exc
    try:
        node = await choose_node(websocket, call_sid, exclude=())
    except RedisError as exc:
        logger.error("console call %s: Redis did not answer: %s", call_sid, exc)
        node = None
    if node is None:
        logger.warning("console call %s: every realtime node is full", call_sid)
        await end_call(client, call_sid, NO_CAPACITY)
        raise _Refused(UNAVAILABLE, None, "all lines are busy: no realtime node has room")
    token = issue_call_token(
        settings.call_token_secret.get_secret_value(),
        call_sid=call_sid,
        agent_id=start.agent_id,
        console=True,
    )
    logger.info("console call %s: agent %s on node %s", call_sid, start.agent_id, node.node_id)
    return _PlacedCall(call, workflow_id, node.media_url, token, client)


def _within(over: OverLimit | None) -> None:
    """Refuse the call when a limit is used up (the message names it and when to try again)."""
    if over is not None:
        raise _Refused(OVER_LIMIT, None, f"{over.message}; try again in {over.retry_after} s")


async def _open_stream(websocket: WebSocket, placed: _PlacedCall) -> ClientConnection:
    """The node's media socket, signed as Twilio signs its upgrades; ends the call if the node
    cannot be reached."""
    settings: Settings = websocket.app.state.settings
    signature = twilio_signature(
        settings.twilio_auth_token.get_secret_value(), placed.media_url, {}
    )
    try:
        return await connect(
            placed.media_url,
            compression=None,
            open_timeout=OPEN_TIMEOUT_S,
            close_timeout=2,
            additional_headers={"X-Twilio-Signature": signature},
        )
    except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
        logger.error("console call %s: no media stream: %s", placed.call.call_sid, exc)
        await end_call(placed.client, placed.call.call_sid, "stream_lost")
        raise _Refused(UNAVAILABLE, None, "the realtime node did not answer; try again") from exc


def _dump(message: dict[str, object]) -> str:
    return json.dumps(message, separators=(",", ":"))


class _ConsoleCall:
    """Both directions of one live console call, and its end."""

    def __init__(self, browser: WebSocket, realtime: ClientConnection, placed: _PlacedCall):
        self.browser = browser
        self.realtime = realtime
        self.placed = placed
        self.call_sid = placed.call.call_sid
        self.stream_sid = new_sid("MZ")
        self._sequence = 0
        self._chunk = 0
        self._send_lock = asyncio.Lock()  # two tasks write to the browser
        self._hung_up = False

    async def run(self) -> None:
        """Start the stream, relay until either side ends, then close both."""
        tasks: list[asyncio.Task[Any]] = []
        try:
            first = await self._start_stream()
            if first is None:
                return
            settings: Settings = self.browser.app.state.settings
            await self._to_browser(
                {
                    "type": "call",
                    "call_sid": self.call_sid,
                    "workflow_id": self.placed.workflow_id,
                    "temporal_ui_url": temporal_ui_url(settings, self.placed.workflow_id),
                }
            )
            if first:
                await self._from_node(first)
            from_browser = _named(self._relay_browser(), f"console-browser-{self.call_sid}")
            from_node = _named(self._relay_node(), f"console-node-{self.call_sid}")
            tasks = [from_browser, from_node]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if from_browser.done() and not from_node.done():
                # The caller hung up or left: `stop`, and the node closes the stream.
                await self._stop()
                await asyncio.wait([from_node], timeout=CLOSE_WAIT_S)
            await self._ended()
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=CLOSE_WAIT_S)
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    logger.error(
                        "console call %s: %s failed",
                        self.call_sid,
                        task.get_name(),
                        exc_info=task.exception(),
                    )
            if not self._hung_up:
                # Whatever ended the relay (a failure, the server shutting down), the call
                # ends as a hang-up rather than waiting for its inactivity timer.
                await self._stop()
            await self.realtime.close()
            await self._close_browser()

    async def _start_stream(self) -> str | bytes | None:
        """Send `connected` and `start`; the node's first message ("" if it has said nothing
        yet), or None when it refused the stream (the browser has been told)."""
        await self._to_node(connected_message())
        await self._to_node(
            start_message(
                sequence_number=self._next_sequence(),
                stream_sid=self.stream_sid,
                call_sid=self.call_sid,
                account_sid=ACCOUNT_SID,
                custom_parameters={
                    "token": self.placed.token,
                    "agent_id": str(self.placed.call.agent.id),
                },
            )
        )
        try:
            async with asyncio.timeout(FIRST_MESSAGE_WAIT_S):
                return await self.realtime.recv()
        except TimeoutError:
            return ""
        except ConnectionClosed:
            code, reason = self.realtime.close_code, self.realtime.close_reason
            logger.error(
                "console call %s: the node refused its stream (%s %s)", self.call_sid, code, reason
            )
            await end_call(self.placed.client, self.call_sid, "stream_lost")
            await _refuse(
                self.browser,
                _Refused(
                    UNAVAILABLE, None, f"the realtime node refused the call ({reason or code})"
                ),
            )
            return None

    async def _relay_browser(self) -> None:
        """Browser → node, until the caller hangs up or leaves."""
        while True:
            try:
                message = await self.browser.receive()
            except (WebSocketDisconnect, RuntimeError):
                message = {"type": "websocket.disconnect"}
            if message["type"] == "websocket.disconnect":
                logger.info("console call %s: the browser left", self.call_sid)
                return
            audio = message.get("bytes")
            if audio is not None:
                await self._audio(audio)
                continue
            text = message.get("text")
            if text is None:
                continue
            if not await self._control(text):
                return

    async def _audio(self, audio: bytes) -> None:
        if not audio or len(audio) % FRAME_BYTES or len(audio) > MAX_AUDIO_BYTES:
            logger.warning(
                "console call %s: dropped %d bytes of audio (not a multiple of %d up to %d)",
                self.call_sid,
                len(audio),
                FRAME_BYTES,
                MAX_AUDIO_BYTES,
            )
            return
        for offset in range(0, len(audio), FRAME_BYTES):
            self._chunk += 1
            await self._to_node(
                inbound_media_message(
                    sequence_number=self._next_sequence(),
                    stream_sid=self.stream_sid,
                    chunk=self._chunk,
                    timestamp_ms=(self._chunk - 1) * FRAME_MS,
                    payload=audio[offset : offset + FRAME_BYTES],
                )
            )

    async def _control(self, text: str) -> bool:
        """One text message from the browser; False once the caller has hung up."""
        try:
            if len(text) > MAX_CONTROL_BYTES:
                raise ValueError("message too long")
            message = _MESSAGE.validate_json(text)
        except (ValidationError, ValueError) as exc:
            say = '"say"' in text[:MAX_CONTROL_BYTES]
            if say and isinstance(exc, ValidationError):
                error = f"text must be 1 to {MAX_TEXT_CHARS} characters"
                await self._error("text", error)
            else:
                await self._error(None, "expected a say, dtmf, mark or hangup message")
            return True
        if isinstance(message, ConsoleSay):
            if not message.text.strip():
                await self._error("text", f"text must be 1 to {MAX_TEXT_CHARS} characters")
                return True
            await self._to_node(
                text_message(
                    sequence_number=self._next_sequence(),
                    stream_sid=self.stream_sid,
                    text=message.text,
                )
            )
        elif isinstance(message, ConsoleDtmf):
            await self._to_node(
                dtmf_message(
                    sequence_number=self._next_sequence(),
                    stream_sid=self.stream_sid,
                    digit=message.digit,
                )
            )
        elif isinstance(message, ConsoleMark):
            await self._to_node(
                mark_echo_message(
                    sequence_number=self._next_sequence(),
                    stream_sid=self.stream_sid,
                    name=message.name,
                )
            )
        else:
            logger.info("console call %s: the caller hung up", self.call_sid)
            return False
        return True

    async def _relay_node(self) -> None:
        """Node → browser, until the node closes the stream."""
        try:
            async for message in self.realtime:
                await self._from_node(message)
        except ConnectionClosed:
            pass

    async def _from_node(self, raw: str | bytes) -> None:
        """One message from the node, read as Twilio reads it, passed on to the browser."""
        try:
            message = parse_server_message(raw)
        except ServerProtocolError as exc:
            # Our own node sent it: a bug to log, not a reason to drop the call.
            logger.error(
                "console call %s: unreadable message from the node: %s", self.call_sid, exc
            )
            return
        if isinstance(message, ServerMedia):
            await self._to_browser_bytes(message.payload)
        elif isinstance(message, ServerMark):
            await self._to_browser({"type": "mark", "name": message.name})
        else:
            await self._to_browser({"type": "clear"})

    def _next_sequence(self) -> int:
        """The next message's `sequenceNumber` (`connected` carries none)."""
        self._sequence += 1
        return self._sequence

    async def _to_node(self, message: str) -> None:
        try:
            await self.realtime.send(message)
        except ConnectionClosed:
            pass  # the node closed the stream; its relay sees it and ends the call

    async def _stop(self) -> None:
        self._hung_up = True
        await self._to_node(
            stop_message(
                sequence_number=self._next_sequence(),
                stream_sid=self.stream_sid,
                account_sid=ACCOUNT_SID,
                call_sid=self.call_sid,
            )
        )

    async def _ended(self) -> None:
        """Tell the browser why the call ended; a call the stream left live is ended here."""
        client = self.placed.client
        redis = self.browser.app.state.redis
        try:
            live, reason = await call_state(client, redis, self.call_sid)
        except (RPCError, RedisError, OSError) as exc:
            logger.warning("console call %s: could not ask how it ended: %s", self.call_sid, exc)
            live, reason = False, None
        if live:
            # The node lost or handed over the stream; a console call is not resumed.
            reason = "caller_hung_up" if self._hung_up else "stream_lost"
            await end_call(client, self.call_sid, reason)
        await self._to_browser({"type": "ended", "reason": reason or "ended"})

    async def _error(self, field: str | None, message: str) -> None:
        await self._to_browser({"type": "error", "field": field, "message": message})

    async def _to_browser(self, message: dict[str, object]) -> None:
        await self._send_browser(text=_dump(message))

    async def _to_browser_bytes(self, audio: bytes) -> None:
        await self._send_browser(data=audio)

    async def _send_browser(self, *, text: str | None = None, data: bytes | None = None) -> None:
        if WebSocketState.DISCONNECTED in (
            self.browser.application_state,
            self.browser.client_state,
        ):
            return
        async with self._send_lock:
            try:
                if data is not None:
                    await self.browser.send_bytes(data)
                else:
                    await self.browser.send_text(text or "")
            except (WebSocketDisconnect, RuntimeError, OSError):
                pass  # the browser left; its relay sees it and ends the call

    async def _close_browser(self) -> None:
        if (self.browser.application_state, self.browser.client_state) == (
            WebSocketState.CONNECTED,
            WebSocketState.CONNECTED,
        ):
            try:
                await self.browser.close(1000, "call ended")
            except (WebSocketDisconnect, RuntimeError, OSError):
                pass


def _named(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """A relay task, named for the logs and for whoever lists the tasks of a stuck process."""
    return asyncio.create_task(coro, name=name)
