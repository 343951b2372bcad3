"""What happened on one simulated call: the transcript, how it ended, what the agent recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from core.fields import FieldScalar

Speaker = Literal["agent", "caller"]


@dataclass(frozen=True)
class TranscriptLine:
    """One turn, as the other side heard it."""

    speaker: Speaker
    text: str
    note: str = ""
    """For the agent: what it recorded or dropped; for the caller: what it understood."""
    latency_ms: float | None = None
    """Audio calls: the caller's last word to the agent's first audio."""

    def as_dict(self) -> dict[str, Any]:
        """The line for the JSON report."""
        line: dict[str, Any] = {"speaker": self.speaker, "text": self.text}
        if self.note:
            line["note"] = self.note
        if self.latency_ms is not None:
            line["latency_ms"] = round(self.latency_ms, 1)
        return line


@dataclass(frozen=True)
class Breach:
    """An agent sentence that broke a don't, and so was never said to the caller."""

    instruction: str
    sentence: str
    reason: str


@dataclass
class CallRecord:
    """One simulated call, start to end."""

    transcript: list[TranscriptLine] = field(default_factory=list)
    end_reason: str = ""
    """"the agent ended the call", "the caller hung up", …"""
    failure: str | None = None
    """Why the call failed whatever its outcome (the caller gave up, a loop); None if it did not."""
    captured: dict[str, FieldScalar] = field(default_factory=dict)
    """What the agent had recorded when the call ended."""
    completed: bool = False
    """Whether every goal of the agent was met."""
    caller_turns: int = 0
    breaches: list[Breach] = field(default_factory=list)
    answer_problems: list[str] = field(default_factory=list)
    """Questions answered without the facts asked for, or with words the agent must not say."""
    unused_moves: list[str] = field(default_factory=list)
    """Script moves whose trigger never came (`on: say`)."""

    def say(
        self, speaker: Speaker, text: str, note: str = "", latency_ms: float | None = None
    ) -> None:
        """Add a line to the transcript."""
        self.transcript.append(TranscriptLine(speaker, text, note, latency_ms))

    @property
    def latencies_ms(self) -> list[float]:
        """The agent's response latencies, on calls that measured them."""
        return [line.latency_ms for line in self.transcript if line.latency_ms is not None]
