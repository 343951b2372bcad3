"""Who is talking, turn by turn, as the caller hears it; and the measurements taken on the way.

Agent turns are found from the audio alone, the way a person on the line would: a turn starts
with the first `media` frame while no agent turn is open, and ends once the caller has heard
nothing for `AGENT_TURN_GAP_S` with nothing new arriving. A turn also ends when the caller's
speech ends and the server had stopped its audio (it honoured the barge-in), so its answer is a
new turn.

Pure bookkeeping on monotonic timestamps the caller passes in; no I/O, no clock of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from core.calls.types import Speaker
from workers.caller.report import CallerTurnKind, MarkRecord, TranscriptEntry, TurnLatency

__all__ = ["AGENT_TURN_GAP_S", "AgentTurn", "CallerTurn", "Conversation"]

# How long the caller must hear silence, with no audio arriving, before the agent's turn is
# over. TTS engines stream sentence by sentence; when the next sentence is slower to synthesize
# than the last one took to play, the caller hears a gap — on a CPU, a first clause takes 0.2 to
# 0.5 s (shared/STACK.md). 700 ms bridges such gaps, yet is shorter than the pause after which a
# person on the phone takes the floor (about a second), so the caller never waits on a turn
# that is in fact over for noticeably longer than a human would.
AGENT_TURN_GAP_S: Final = 0.7


@dataclass
class AgentTurn:
    """One agent turn: when its audio arrived, what of it the caller heard."""

    index: int
    started_at: float
    last_media_at: float
    ended_at: float | None = None
    interrupted: bool = False
    latency_ms: float | None = None
    heard: bytearray = field(default_factory=bytearray)
    text: str = ""


@dataclass
class CallerTurn:
    """One caller turn: a line (plain or barge-in) or keys pressed, and its timings."""

    index: int
    kind: CallerTurnKind
    text: str
    started_at: float | None = None
    onset_at: float | None = None
    last_word_at: float | None = None
    ended_at: float | None = None
    audio_ms: int = 0
    cut_short: bool = False
    agent_talking_at_onset: bool | None = None
    reply_at: float | None = None
    clear_at: float | None = None
    agent_last_media_at: float | None = None


class Conversation:
    """The call's turns and the caller-side measurements, updated as events happen."""

    def __init__(self, started_at: float) -> None:
        self.started_at = started_at
        self.agent_turns: list[AgentTurn] = []
        self.caller_turns: list[CallerTurn] = []
        self.open_turn: AgentTurn | None = None
        self.marks: list[MarkRecord] = []
        self.clears: list[float] = []
        self.playing = False
        self._silent_since: float | None = None

    def ms(self, at: float) -> float:
        """A monotonic time as milliseconds since the stream started."""
        return round((at - self.started_at) * 1000.0, 1)

    # --- agent side ---------------------------------------------------------------------

    def agent_media(self, now: float) -> AgentTurn:
        """Agent audio arrived: the turn it belongs to (opened if none is)."""
        turn = self.open_turn
        if turn is None:
            turn = AgentTurn(index=len(self.agent_turns), started_at=now, last_media_at=now)
            self.agent_turns.append(turn)
            self.open_turn = turn
        turn.last_media_at = now
        caller = self.caller_turns[-1] if self.caller_turns else None
        if caller is not None:
            if caller.last_word_at is not None and caller.reply_at is None:
                caller.reply_at = now
                turn.latency_ms = round((now - caller.last_word_at) * 1000.0, 1)
            elif caller.onset_at is not None and caller.last_word_at is None:
                caller.agent_last_media_at = now  # the agent is still sending over the caller
        return turn

    def clear(self, now: float) -> None:
        """The server cleared the caller's playback."""
        self.clears.append(self.ms(now))
        if self.open_turn is not None:
            self.open_turn.interrupted = True
        caller = self.caller_turns[-1] if self.caller_turns else None
        if caller is not None and caller.onset_at is not None and caller.clear_at is None:
            caller.clear_at = now

    def tick(self, now: float, heard: list[tuple[int, bytes]]) -> AgentTurn | None:
        """One 20 ms of playback: record what was heard; return the agent turn that just ended."""
        for index, piece in heard:
            self.agent_turns[index].heard += piece
        self.playing = bool(heard)
        if self.playing:
            self._silent_since = None
            return None
        if self._silent_since is None:
            self._silent_since = now
        turn = self.open_turn
        if turn is None:
            return None
        quiet_from = max(turn.last_media_at, self._silent_since)
        if now - quiet_from < AGENT_TURN_GAP_S:
            return None
        return self._close(quiet_from)

    def _close(self, at: float) -> AgentTurn | None:
        turn = self.open_turn
        if turn is not None:
            turn.ended_at = at
            self.open_turn = None
        return turn

    # --- caller side --------------------------------------------------------------------

    def caller_turn(self, kind: CallerTurnKind, text: str) -> CallerTurn:
        """Start recording a new caller turn."""
        turn = CallerTurn(index=len(self.caller_turns), kind=kind, text=text)
        self.caller_turns.append(turn)
        return turn

    def caller_onset(self, turn: CallerTurn, now: float) -> None:
        """The caller's first audible frame was sent."""
        turn.onset_at = now
        turn.agent_talking_at_onset = self.open_turn is not None and self.playing

    def caller_done(self, turn: CallerTurn, now: float) -> AgentTurn | None:
        """The caller's utterance (or keys) finished; a stopped agent turn ends with it."""
        turn.ended_at = now
        if self.open_turn is not None and not self.playing:
            return self._close(now)
        return None

    def hang_up(self, now: float, *, audio_pending: bool) -> AgentTurn | None:
        """The call (or its stream) is over: close the open agent turn, cut off if audio was
        still to play."""
        if self.open_turn is not None and (audio_pending or self.playing):
            self.open_turn.interrupted = True
        return self._close(now)

    # --- results ------------------------------------------------------------------------

    def transcript(self) -> list[TranscriptEntry]:
        """Both sides' turns in the order they started."""
        entries: list[tuple[float, TranscriptEntry]] = []
        for agent in self.agent_turns:
            entry = TranscriptEntry(
                speaker=Speaker.AGENT,
                text=agent.text,
                at_ms=self.ms(agent.started_at),
                audio_ms=len(agent.heard) // 8,
                interrupted=agent.interrupted,
                latency_ms=agent.latency_ms,
            )
            entries.append((agent.started_at, entry))
        for caller in self.caller_turns:
            if caller.started_at is None:
                continue
            entry = TranscriptEntry(
                speaker=Speaker.CALLER,
                text=caller.text,
                at_ms=self.ms(caller.started_at),
                audio_ms=caller.audio_ms,
                interrupted=caller.cut_short,
            )
            entries.append((caller.onset_at or caller.started_at, entry))
        return [entry for _, entry in sorted(entries, key=lambda pair: pair[0])]

    def latencies(self) -> list[TurnLatency]:
        """One row of measurements per caller turn that was taken."""
        rows: list[TurnLatency] = []
        for caller in self.caller_turns:
            if caller.started_at is None:
                continue
            row = TurnLatency(
                turn=caller.index + 1,
                kind=caller.kind,
                text=caller.text,
                onset_at_ms=_at(self, caller.onset_at),
                last_word_at_ms=_at(self, caller.last_word_at),
                response_ms=_between(caller.last_word_at, caller.reply_at),
            )
            if caller.kind == "barge_in":
                row.agent_talking_at_onset = caller.agent_talking_at_onset
                row.clear_ms = _between(caller.onset_at, caller.clear_at)
                row.agent_stopped_ms = _between(caller.onset_at, caller.agent_last_media_at)
            rows.append(row)
        return rows


def _at(conversation: Conversation, at: float | None) -> float | None:
    return None if at is None else conversation.ms(at)


def _between(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000.0, 1)
