"""The agent's outbound audio: 20 ms frames paced in real time, marks to know what was heard.

Twilio plays whatever it is sent as soon as it arrives and buffers the rest, so sending a whole
reply at once would make a barge-in `clear` the only way to stop it, and would leave us blind to
what the caller heard. `Playout` instead keeps Twilio's buffer at a small lead (`lead_s`, 80 ms
by default: enough to ride out scheduling jitter, small enough that the audio stops quickly when
the caller interrupts) and sends a `mark` after every piece of speech. Twilio echoes a mark when
the audio before it has played (or was cleared), so:

- `heard()` is the text of the pieces whose marks came back, plus the share of the current piece
  that has played by the clock (word-rounded down): the agent turn's "words actually played";
- `wait_played()` resolves when the caller has heard everything queued.

One `Playout` per call; `run()` is its sender task.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from realtime.audio import FRAME_BYTES
from realtime.twilio_protocol import clear_message, mark_message, media_message

_LOGGER = logging.getLogger(__name__)

FRAME_SECONDS: Final = 0.02
DEFAULT_LEAD_S: Final = 0.08
# If a peer never echoes marks (Twilio always does), audio counts as played this long after
# its frames' play time, so the call never waits forever.
MARK_GRACE_S: Final = 1.0

Send = Callable[[str], Awaitable[None]]


@dataclass
class _Piece:
    """A piece of speech (one TTS chunk) and what is known of its playback."""

    mark: str
    text: str
    frames: int = 0
    play_start: float | None = None
    """When its first frame was due to start playing (monotonic), once sent."""
    played: bool = False


@dataclass(frozen=True)
class _Begin:
    """Queued ahead of a piece's first frame: its play time is known when that frame goes."""

    piece: _Piece


class Playout:
    """Paces one call's outbound frames and tracks what the caller has heard."""

    def __init__(
        self, send: Send, stream_sid: str, *, lead_s: float = DEFAULT_LEAD_S, mark_prefix: str = ""
    ) -> None:
        self._send = send
        self.stream_sid = stream_sid
        self.lead_s = lead_s
        self._mark_prefix = mark_prefix or "cw"
        self._queue: deque[bytes | _Begin | _Piece] = deque()
        self._pieces: dict[str, _Piece] = {}
        self._order: list[_Piece] = []  # pieces of the current reply, in order
        self._count = 0
        self._play_end = 0.0  # when everything sent so far will have played (monotonic)
        self._wakeup = asyncio.Event()
        self._played = asyncio.Event()
        self._played.set()
        self.first_frame_at: float | None = None
        """Monotonic time the current reply's first frame was sent."""
        self.frames_sent = 0

    @property
    def active(self) -> bool:
        """Whether the caller is hearing (or about to hear) agent audio."""
        return not self._played.is_set()

    def speak(self, frames: list[bytes], text: str) -> None:
        """Queue a piece of speech: its 160-byte frames, then a mark naming it."""
        if not frames:
            return
        for frame in frames:
            if len(frame) != FRAME_BYTES:
                raise ValueError(f"frames are {FRAME_BYTES} bytes, got {len(frame)}")
        self._count += 1
        piece = _Piece(mark=f"{self._mark_prefix}-{self._count}", text=text, frames=len(frames))
        self._pieces[piece.mark] = piece
        self._order.append(piece)
        self._queue.append(_Begin(piece))
        self._queue.extend(frames)
        self._queue.append(piece)
        self._played.clear()
        self._wakeup.set()

    def new_reply(self) -> None:
        """Start tracking a new agent turn (what `heard` reports)."""
        self._order = []
        self.first_frame_at = None

    async def clear(self) -> str:
        """Barge-in: drop everything queued, tell Twilio to drop its buffer; returns `heard()`."""
        heard = self.heard()
        self._queue.clear()
        self._play_end = 0.0
        for piece in self._order:
            piece.played = True
        self._pieces.clear()
        self._played.set()
        await self._send(clear_message(self.stream_sid))
        return heard

    def on_mark(self, name: str) -> None:
        """Twilio echoed a mark: its piece (and every piece before it) has played."""
        piece = self._pieces.pop(name, None)
        if piece is None:
            return  # a mark from before a clear, or not ours
        for earlier in self._order:
            earlier.played = True
            if earlier is piece:
                break
        if not self._pieces and not self._queue:
            self._played.set()

    def heard(self) -> str:
        """The words of the current reply the caller has heard so far."""
        words: list[str] = []
        now = time.monotonic()
        for piece in self._order:
            if piece.played:
                words.extend(piece.text.split())
                continue
            if piece.play_start is not None and now > piece.play_start:
                share = (now - piece.play_start) / (piece.frames * FRAME_SECONDS)
                piece_words = piece.text.split()
                words.extend(piece_words[: math.floor(min(share, 1.0) * len(piece_words))])
            break
        return " ".join(words)

    async def wait_played(self) -> None:
        """Until everything queued has played (its marks echoed, or the clock says so)."""
        while not self._played.is_set():
            grace = max(self._play_end - time.monotonic(), 0.0) + MARK_GRACE_S
            try:
                await asyncio.wait_for(self._played.wait(), timeout=grace)
            except TimeoutError:
                if not self._queue and time.monotonic() >= self._play_end + MARK_GRACE_S:
                    _LOGGER.warning("stream %s: marks not echoed; assuming played", self.stream_sid)
                    self._pieces.clear()
                    self._played.set()

    async def run(self) -> None:
        """Send queued frames in real time, `lead_s` ahead of the caller's ear; until cancelled."""
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            item = self._queue[0]
            if isinstance(item, _Begin):
                self._queue.popleft()
                item.piece.play_start = max(self._play_end, time.monotonic())
                continue
            if isinstance(item, _Piece):
                self._queue.popleft()
                await self._send(mark_message(self.stream_sid, item.mark))
                continue
            now = time.monotonic()
            ahead = self._play_end - now
            if ahead > self.lead_s:
                await asyncio.sleep(ahead - self.lead_s)
                continue
            self._queue.popleft()
            self._play_end = max(self._play_end, now) + FRAME_SECONDS
            if self.first_frame_at is None:
                self.first_frame_at = now
            self.frames_sent += 1
            await self._send(media_message(self.stream_sid, item))
