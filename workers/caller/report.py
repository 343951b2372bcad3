"""What a simulated call leaves behind: `CallReport`, and `render` to show it on a terminal.

Times are milliseconds from the moment the caller sent `start`, measured on the caller's
monotonic clock; latencies are what a person on the phone would experience, give or take the
network between the caller and the server.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from core.calls.types import Speaker

__all__ = [
    "CallReport",
    "CallerTurnKind",
    "EndedBy",
    "MarkRecord",
    "Reconnection",
    "TranscriptEntry",
    "TurnLatency",
    "render",
]

EndedBy = Literal["caller", "agent", "timeout"]
CallerTurnKind = Literal["say", "barge_in", "dtmf"]


@dataclass
class TranscriptEntry:
    """One turn as the caller lived it.

    `interrupted`: the agent's audio did not play to its end (a `clear`, or the call ended
    mid-turn); for the caller, its line was cut off by the end of the call. `latency_ms` (agent
    turns): from the caller's last audible word to this turn's first audio; None when the turn
    answered nothing (a greeting, a reprompt). `audio_ms`: audio heard (agent) or spoken (caller).
    """

    speaker: Speaker
    text: str
    at_ms: float
    audio_ms: int
    interrupted: bool = False
    latency_ms: float | None = None


@dataclass
class TurnLatency:
    """Measurements for one caller turn (a line said, or keys pressed).

    `onset_at_ms` and `last_word_at_ms`: when the first and last audible frames of the line
    were sent (for DTMF: the first and the last key). `response_ms`: the caller's last audible
    word → the first agent `media` received after it; None if the agent never answered.
    Barge-in turns add `clear_ms` (caller speech onset → `clear` received) and
    `agent_stopped_ms` (onset → the last agent `media` received before the caller's last word;
    None if none arrived after onset).
    """

    turn: int
    kind: CallerTurnKind
    text: str
    onset_at_ms: float | None
    last_word_at_ms: float | None
    response_ms: float | None
    agent_talking_at_onset: bool | None = None
    clear_ms: float | None = None
    agent_stopped_ms: float | None = None


@dataclass
class MarkRecord:
    """A mark the server sent and when the caller echoed it (played through, or cleared)."""

    name: str
    received_at_ms: float
    echoed_at_ms: float | None = None
    cleared: bool = False


@dataclass
class Reconnection:
    """A media stream that closed while the call went on, and the one that took over.

    `lost_at_ms`: the stream closed; `connected_at_ms`: the next one sent `start`;
    `agent_heard_at_ms`: the first agent audio after the loss (None: never) — the gap the caller
    heard is `agent_heard_at_ms - lost_at_ms`.
    """

    lost_at_ms: float
    connected_at_ms: float
    agent_heard_at_ms: float | None = None

    @property
    def gap_ms(self) -> float | None:
        """Silence the caller heard: from the loss to the agent's voice again."""
        if self.agent_heard_at_ms is None:
            return None
        return self.agent_heard_at_ms - self.lost_at_ms


@dataclass
class CallReport:
    """Everything the simulated caller observed on one call."""

    call_sid: str
    stream_sid: str
    custom_parameters: dict[str, str]
    """The TwiML's `<Parameter>`s as sent in `start`, the call token redacted."""
    transcript: list[TranscriptEntry]
    turns: list[TurnLatency]
    marks: list[MarkRecord]
    clears: list[float]
    """When each `clear` arrived (ms from `start`)."""
    ended_by: EndedBy
    """Who ended the call: the caller (script done or a hangup step), the agent (the server
    closed the socket first) or the caller's overall time limit."""
    closed_by_server: bool
    close_code: int | None
    close_reason: str
    duration_ms: float
    frames_sent: int
    max_send_lag_ms: float
    """The latest any caller frame left behind its 20 ms schedule: pacing health."""
    steps_run: int
    steps_total: int
    notes: list[str] = field(default_factory=list)
    """What did not go to plan: an agent that did not answer in time, a malformed frame."""
    streams: int = 1
    """Media streams the call had: more than one when it was resumed after a lost stream."""
    reconnections: list[Reconnection] = field(default_factory=list)
    twilio_said: list[str] = field(default_factory=list)
    """What `<Say>` verbs told the caller (a busy message, an apology before hanging up)."""
    clock_origin_s: float = 0.0
    """The caller's monotonic clock at `start` (0 ms): to line its times up with others'."""

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return asdict(self)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def render(report: CallReport, console: Console) -> None:
    """Print the transcript, the per-turn latency table and how the call ended."""
    transcript = Table(title=f"Call {report.call_sid}", show_lines=False, expand=False)
    transcript.add_column("at s", justify="right", style="dim")
    transcript.add_column("who")
    transcript.add_column("said", overflow="fold")
    transcript.add_column("reply ms", justify="right")
    for entry in report.transcript:
        said = Text(entry.text or "(no words)")
        if entry.interrupted:
            said.append("  [cut off]", style="yellow")
        style = "cyan" if entry.speaker is Speaker.AGENT else "green"
        transcript.add_row(
            f"{entry.at_ms / 1000:.1f}",
            Text(entry.speaker.value, style=style),
            said,
            _ms(entry.latency_ms),
        )
    console.print(transcript)

    if report.turns:
        latency = Table(title="Latency per caller turn (caller's side)")
        latency.add_column("#", justify="right")
        latency.add_column("caller", overflow="fold")
        latency.add_column("last word → agent audio ms", justify="right")
        latency.add_column("barge-in: onset → clear ms", justify="right")
        latency.add_column("onset → last agent audio ms", justify="right")
        for turn in report.turns:
            barge = turn.kind == "barge_in"
            latency.add_row(
                str(turn.turn),
                turn.text,
                _ms(turn.response_ms),
                _ms(turn.clear_ms) if barge else "",
                _ms(turn.agent_stopped_ms) if barge else "",
            )
        console.print(latency)

    closed = (
        f"the server closed the socket (code {report.close_code}"
        + (f", {report.close_reason!r}" if report.close_reason else "")
        + ")"
        if report.closed_by_server
        else "the caller hung up"
    )
    console.print(
        f"ended by [bold]{report.ended_by}[/bold]: {closed}; {report.duration_ms / 1000:.1f} s, "
        f"{report.frames_sent} frames sent (max lag {report.max_send_lag_ms:.0f} ms), "
        f"{len(report.marks)} marks, {len(report.clears)} clears, "
        f"steps {report.steps_run}/{report.steps_total}"
    )
    for reconnection in report.reconnections:
        gap = reconnection.gap_ms
        console.print(
            f"stream lost at {reconnection.lost_at_ms / 1000:.1f} s, reconnected at "
            f"{reconnection.connected_at_ms / 1000:.1f} s; "
            + (f"the caller heard {gap:.0f} ms of silence" if gap is not None else "never heard")
        )
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
