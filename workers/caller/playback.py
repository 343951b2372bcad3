"""Twilio's playback buffer: the server's audio and marks, played out in order in real time.

Twilio accepts outbound `media` faster than real time, queues it, and plays it to the caller at
8000 samples a second. A `mark` sits in the same queue: Twilio echoes it when playback reaches
it, i.e. when all audio sent before it has been heard. A `clear` empties the queue at once and
every mark still in it is echoed immediately.

`PlaybackBuffer` is that queue with no clock of its own: the caller's 20 ms pacing loop calls
`tick()` once a frame, so playback runs on the same monotonic schedule as the caller's outbound
audio and cannot drift from it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from realtime.audio import FRAME_BYTES

__all__ = ["PlaybackBuffer", "PlaybackTick"]


@dataclass(slots=True)
class _Audio:
    payload: bytes
    turn: int


@dataclass(slots=True)
class _Marker:
    name: str


@dataclass(frozen=True, slots=True)
class PlaybackTick:
    """What one 20 ms tick did: audio that started playing (per agent turn), marks reached."""

    played: list[tuple[int, bytes]] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)

    @property
    def playing(self) -> bool:
        """True while some audio is sounding during this tick."""
        return bool(self.played)


class PlaybackBuffer:
    """The queue of agent audio and marks waiting to be played to the caller."""

    def __init__(self) -> None:
        self._items: deque[_Audio | _Marker] = deque()
        self._buffered_bytes = 0

    @property
    def buffered_ms(self) -> int:
        """Audio queued and not yet played, in milliseconds."""
        return self._buffered_bytes // (FRAME_BYTES // 20)

    @property
    def empty(self) -> bool:
        """Nothing queued: no audio and no marks."""
        return not self._items

    def add_audio(self, payload: bytes, turn: int) -> None:
        """Queue agent audio (any length) belonging to agent turn `turn`."""
        if payload:
            self._items.append(_Audio(payload, turn))
            self._buffered_bytes += len(payload)

    def add_mark(self, name: str) -> None:
        """Queue a mark behind everything queued so far."""
        self._items.append(_Marker(name))

    def tick(self) -> PlaybackTick:
        """Advance playback by one 20 ms frame.

        Marks at the head are reached first: the audio before them was started on an earlier
        tick and has finished sounding by now. Then up to one frame of audio starts playing;
        playback stops short at a mark, so a mark is never echoed before its audio has played.
        """
        result = PlaybackTick()
        while self._items and isinstance(marker := self._items[0], _Marker):
            self._items.popleft()
            result.marks.append(marker.name)
        budget = FRAME_BYTES
        while budget and self._items and isinstance(head := self._items[0], _Audio):
            piece, rest = head.payload[:budget], head.payload[budget:]
            result.played.append((head.turn, piece))
            budget -= len(piece)
            self._buffered_bytes -= len(piece)
            if rest:
                head.payload = rest
            else:
                self._items.popleft()
        return result

    def clear(self) -> list[str]:
        """Drop all queued audio; return the marks that were pending, in order."""
        pending = [item.name for item in self._items if isinstance(item, _Marker)]
        self._items.clear()
        self._buffered_bytes = 0
        return pending
