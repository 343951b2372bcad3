"""Playout: real-time pacing, marks, what the caller heard, clear."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from realtime.playout import Playout

FRAME = bytes([0xFF]) * 160


class Wire:
    """What went out, with the time each message left."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, dict[str, object]]] = []

    async def send(self, text: str) -> None:
        self.sent.append((time.monotonic(), json.loads(text)))

    def events(self, kind: str) -> list[tuple[float, dict[str, object]]]:
        return [(t, m) for t, m in self.sent if m["event"] == kind]


async def test_frames_are_paced_in_real_time_with_a_small_lead() -> None:
    wire = Wire()
    playout = Playout(wire.send, "MZ1", lead_s=0.08)
    runner = asyncio.create_task(playout.run())
    started = time.monotonic()
    playout.speak([FRAME] * 25, "half a second")  # 0.5 s of audio
    await asyncio.sleep(0.25)
    sent_early = len(wire.events("media"))
    await asyncio.sleep(0.4)
    runner.cancel()
    # After 0.25 s: 0.25 s played plus the 80 ms lead, not the whole buffer.
    assert 14 <= sent_early <= 19, sent_early
    media = wire.events("media")
    assert len(media) == 25
    assert media[-1][0] - started == pytest.approx(0.5 - 0.08 - 0.02, abs=0.06)
    # The mark follows the piece's last frame.
    assert wire.sent[-1][1]["event"] == "mark"


async def test_heard_is_what_marks_confirm_plus_the_share_played() -> None:
    wire = Wire()
    playout = Playout(wire.send, "MZ1", lead_s=0.04)
    runner = asyncio.create_task(playout.run())
    playout.new_reply()
    playout.speak([FRAME] * 10, "one two three four")  # 0.2 s
    playout.speak([FRAME] * 50, "five six seven eight nine ten")  # 1.0 s
    await asyncio.sleep(0.25)
    first_mark = str(wire.events("mark")[0][1]["mark"]["name"])  # type: ignore[index]
    playout.on_mark(first_mark)
    await asyncio.sleep(0.5)  # about half of the second piece has played
    heard = playout.heard().split()
    assert heard[:4] == ["one", "two", "three", "four"]
    assert 5 <= len(heard) <= 8, heard
    assert playout.active
    cut = await playout.clear()
    runner.cancel()
    assert cut.split()[:4] == heard[:4]
    assert wire.sent[-1][1]["event"] == "clear"
    assert not playout.active


async def test_wait_played_returns_when_the_last_mark_comes_back() -> None:
    wire = Wire()
    playout = Playout(wire.send, "MZ1")
    runner = asyncio.create_task(playout.run())
    playout.speak([FRAME] * 5, "short")
    waiter = asyncio.create_task(playout.wait_played())
    await asyncio.sleep(0.2)
    assert not waiter.done()
    playout.on_mark(str(wire.events("mark")[0][1]["mark"]["name"]))  # type: ignore[index]
    await asyncio.wait_for(waiter, 1)
    runner.cancel()


async def test_frames_must_be_whole() -> None:
    playout = Playout(Wire().send, "MZ1")
    with pytest.raises(ValueError, match="160"):
        playout.speak([FRAME[:100]], "bad")
