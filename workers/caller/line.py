"""The phone line: one Media Streams WebSocket driven exactly as Twilio drives it.

The pacing loop is the line's clock. Every 20 ms, scheduled by frame index on the monotonic
clock (a late frame is caught up, never accumulated as drift), it sends one `media` frame — the
caller's speech, or μ-law silence — and advances playback of the agent's audio by one frame,
echoing the marks playback reaches. The receive loop queues the agent's audio and marks as they
arrive and handles `clear` at once. Nothing slow runs in either loop: speech is synthesized
before the call and turns are transcribed elsewhere (the `on_turn_end` callback).

A call can outlive its stream: when the server's side closes, Twilio goes on with the TwiML
(a `<Redirect>` to the platform may connect a new stream). Between streams the line is dead air:
the caller's words go nowhere, the agent's unplayed audio is gone; `attach` puts the next
stream on the same line, and the conversation's clock and turns go on.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from core.calls.twilio_peer import (
    ServerClear,
    ServerMark,
    ServerMedia,
    ServerProtocolError,
    connected_message,
    dtmf_message,
    inbound_media_message,
    mark_echo_message,
    parse_server_message,
    start_message,
    stop_message,
)
from realtime.audio import FRAME_BYTES, ULAW_SILENCE
from workers.caller.conversation import AgentTurn, CallerTurn, Conversation
from workers.caller.playback import PlaybackBuffer
from workers.caller.report import MarkRecord
from workers.caller.voice import CallerUtterance

__all__ = ["DTMF_GAP_S", "FRAME_S", "PhoneLine"]

FRAME_S: Final = 0.020
SILENCE_FRAME: Final = bytes([ULAW_SILENCE]) * FRAME_BYTES
# Between two keys of a DTMF sequence: a quick but human key press.
DTMF_GAP_S: Final = 0.15


class _Speaking:
    """An utterance being sent frame by frame by the pacing loop."""

    def __init__(self, utterance: CallerUtterance, turn: CallerTurn) -> None:
        self.utterance = utterance
        self.turn = turn
        self.position = 0
        self.finished = False


class PhoneLine:
    """Twilio's end of one media stream: sends the caller, plays the agent, keeps the score.

    `on_turn_end` receives each agent turn as it ends (to transcribe it); `on_note` receives
    anything worth a line in the report.
    """

    def __init__(
        self,
        ws: ClientConnection | None,
        *,
        stream_sid: str,
        call_sid: str,
        account_sid: str,
        on_turn_end: Callable[[AgentTurn], None],
        on_note: Callable[[str], None],
    ) -> None:
        self.ws = ws
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.account_sid = account_sid
        self.conversation = Conversation(time.monotonic())
        self.playback = PlaybackBuffer()
        self.frames_sent = 0
        self.max_lag_s = 0.0
        self.hangup_requested = asyncio.Event()
        self.server_closed = asyncio.Event()
        """The call is over from the platform's side: the agent hung up."""
        self.hanging_up = False
        self.streams = 0
        self.losses = 0
        """Streams that closed while the call went on."""
        self.close_code: int | None = None
        self.close_reason = ""
        """How the last stream's socket closed."""
        self._frame0 = 0  # the pacing index of the current stream's first frame
        self._index = 0
        self._on_turn_end = on_turn_end
        self._on_note = on_note
        self._speech: _Speaking | None = None
        self._seq = 0
        self._send_lock = asyncio.Lock()
        self._changed = asyncio.Condition()

    @property
    def closed(self) -> bool:
        """True once the server has closed the socket."""
        return self.server_closed.is_set()

    def attach(self, ws: ClientConnection, stream_sid: str) -> None:
        """Put the next stream of the call on this line."""
        self.ws = ws
        self.stream_sid = stream_sid
        self._seq = 0
        self._frame0 = self._index

    async def start(self, custom_parameters: dict[str, str]) -> None:
        """Send `connected` and `start`; the call's clock starts with its first stream."""
        assert self.ws is not None
        await self.ws.send(connected_message())
        if self.streams == 0:
            self.conversation = Conversation(time.monotonic())
        self.streams += 1
        await self._send(
            functools.partial(
                start_message,
                stream_sid=self.stream_sid,
                call_sid=self.call_sid,
                account_sid=self.account_sid,
                custom_parameters=custom_parameters,
            )
        )

    async def until(self, predicate: Callable[[], bool], limit_s: float | None) -> bool:
        """Wait until `predicate()` holds (checked on every tick and message); False after
        `limit_s`."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), limit_s)
            except TimeoutError:
                return False
        return True

    async def speak(self, utterance: CallerUtterance, turn: CallerTurn) -> None:
        """Send `utterance` on the next ticks; return once its last frame is out (or the line
        is dead)."""
        speaking = _Speaking(utterance, turn)
        self._speech = speaking
        await self.until(lambda: speaking.finished or self.closed, None)

    async def press(self, digits: str, turn: CallerTurn) -> None:
        """Press keys: one `dtmf` message each, a short human gap between them."""
        for position, digit in enumerate(digits):
            if position:
                await asyncio.sleep(DTMF_GAP_S)
            if turn.started_at is None:
                turn.started_at = time.monotonic()
                self.conversation.caller_onset(turn, turn.started_at)
            try:
                await self._send(
                    functools.partial(dtmf_message, stream_sid=self.stream_sid, digit=digit)
                )
            except ConnectionClosed:
                return
        now = time.monotonic()
        turn.last_word_at = now
        self._turn_ended(self.conversation.caller_done(turn, now))

    async def pace(self) -> None:
        """The 20 ms loop for the whole call; returns after sending `stop`, or once the call is
        over. Between streams it goes on ticking: the caller's frames are lost, as on a phone."""
        started = self.conversation.started_at
        self._index = 0
        while not self.closed:
            index = self._index
            due = started + index * FRAME_S
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            self.max_lag_s = max(self.max_lag_s, now - due)
            frame = self._next_caller_frame(now)
            played: list[tuple[int, bytes]] = []
            if self.hangup_requested.is_set():
                if self.ws is not None:
                    try:
                        await self._hang_up()
                    except ConnectionClosed:
                        pass
                return
            if self.ws is not None:
                chunk = index - self._frame0
                try:
                    await self._send(
                        functools.partial(
                            inbound_media_message,
                            stream_sid=self.stream_sid,
                            chunk=chunk + 1,
                            timestamp_ms=chunk * 20,
                            payload=frame,
                        )
                    )
                    self.frames_sent += 1
                    tick = self.playback.tick()
                    played = tick.played
                    for name in tick.marks:
                        await self._echo(name, now, cleared=False)
                except ConnectionClosed:
                    pass  # the receive loop sees the stream end
            self._turn_ended(self.conversation.tick(now, played))
            await self._notify()
            self._index += 1

    async def receive(self) -> None:
        """Take the server's messages until the stream closes. The call itself may go on:
        whoever runs the line follows the TwiML, then `attach`es the next stream or ends it."""
        ws = self.ws
        assert ws is not None
        try:
            async for raw in ws:
                now = time.monotonic()
                try:
                    message = parse_server_message(raw)
                except ServerProtocolError as exc:
                    self._on_note(f"a frame Twilio would not understand: {exc}")
                    continue
                if isinstance(message, ServerMedia):
                    turn = self.conversation.agent_media(now)
                    self.playback.add_audio(message.payload, turn.index)
                elif isinstance(message, ServerMark):
                    self.conversation.marks.append(
                        MarkRecord(message.name, self.conversation.ms(now))
                    )
                    self.playback.add_mark(message.name)
                elif isinstance(message, ServerClear):
                    self.conversation.clear(now)
                    # Twilio returns every pending mark at once: the audio they waited on is gone.
                    for name in self.playback.clear():
                        await self._echo(name, now, cleared=True)
                await self._notify()
        except ConnectionClosed:
            pass
        self.close_code, self.close_reason = ws.close_code, ws.close_reason or ""
        if self.ws is ws:
            self.ws = None
        if not self.hanging_up:
            self.losses += 1
            # The agent's turn ends with its stream (cut off if audio was still to play: Twilio
            # drops it); whatever the next stream says is a turn of its own.
            now = time.monotonic()
            self._turn_ended(self.conversation.hang_up(now, audio_pending=not self.playback.empty))
            self.playback.clear()
        await self._notify()

    async def end(self) -> None:
        """The platform ended the call (the TwiML hung up, or ran out)."""
        self.server_closed.set()
        await self._notify()

    def _next_caller_frame(self, now: float) -> bytes:
        speaking = self._speech
        if speaking is None:
            return SILENCE_FRAME
        utterance, turn, position = speaking.utterance, speaking.turn, speaking.position
        if position == 0:
            turn.started_at = now
        if position == utterance.first_audible:
            self.conversation.caller_onset(turn, now)
        if position == utterance.last_audible:
            # The wall time the last word left: what the caller's latency is measured from.
            turn.last_word_at = now
        speaking.position += 1
        turn.audio_ms = speaking.position * 20
        if speaking.position == len(utterance.frames):
            speaking.finished = True
            self._speech = None
            self._turn_ended(self.conversation.caller_done(turn, now))
        return utterance.frames[position]

    async def _hang_up(self) -> None:
        self.hanging_up = True
        if self._speech is not None:
            self._speech.turn.cut_short = True
        await self._send(
            functools.partial(
                stop_message,
                stream_sid=self.stream_sid,
                account_sid=self.account_sid,
                call_sid=self.call_sid,
            )
        )

    async def _echo(self, name: str, now: float, *, cleared: bool) -> None:
        for record in self.conversation.marks:
            if record.name == name and record.echoed_at_ms is None:
                record.echoed_at_ms = self.conversation.ms(now)
                record.cleared = cleared
                break
        await self._send(
            functools.partial(mark_echo_message, stream_sid=self.stream_sid, name=name)
        )

    async def _send(self, build: Callable[..., str]) -> None:
        """Send one sequenced message; numbers follow send order across every event."""
        async with self._send_lock:
            if self.ws is None:
                raise ConnectionClosed(None, None)
            self._seq += 1
            await self.ws.send(build(sequence_number=self._seq))

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _turn_ended(self, turn: AgentTurn | None) -> None:
        if turn is not None:
            self._on_turn_end(turn)
