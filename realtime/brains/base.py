"""The brain interface: what the agent says next, streamed, and what the caller's turn captured.

A brain is one object per call. The call session hands it one caller turn at a time (words or
keypad digits) and consumes the events it yields as they come: each `Say` is spoken as soon as
it arrives (so an LLM's first sentence is on the phone while it writes the second), `Captured`
and `Rejected` go to the call's workflow, `EndCall` closes the call once the agent has spoken.
Cancelling the iteration (barge-in) stops the brain; the session then tells it with `heard` what
the caller actually heard, so the conversation history holds the truth.

Every brain keeps its captures in `manager`, a `GoalManager` over the agent's goals: the local
copy of goal progress the audio path reads, computed by the same code the workflow runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from core.calls.types import TurnEvent
from core.fields.values import FieldScalar
from core.goals.manager import GoalManager
from core.knowledge import Hit

CUT_OFF: Final = "Sorry about that, we got cut off."


@dataclass(frozen=True)
class CallerTurn:
    """One thing the caller did: said `text`, or pressed `digits` on the keypad; with the
    agent's knowledge items most relevant to the words, found while the caller paused."""

    text: str = ""
    digits: str = ""
    knowledge: tuple[Hit, ...] = ()


@dataclass(frozen=True)
class Say:
    """A piece of the agent's reply to speak now (a sentence or a clause)."""

    text: str


@dataclass(frozen=True)
class Captured:
    """A field the caller gave, accepted by the local GoalManager, in canonical form."""

    name: str
    value: FieldScalar


@dataclass(frozen=True)
class Rejected:
    """A field the turn tried to fill and could not, with the reason."""

    name: str
    reason: str


@dataclass(frozen=True)
class EndCall:
    """Close the call once everything said so far has been played."""

    reason: str = "completed"


@dataclass(frozen=True)
class FirstToken:
    """The brain produced its first output for this turn (for the latency breakdown)."""

    source: str
    """Which brain answered: "llm" or "guided" (a fallback shows here)."""


BrainEvent = Say | Captured | Rejected | EndCall | FirstToken


class Brain(ABC):
    """Decides the agent's words, one caller turn at a time."""

    manager: GoalManager

    @abstractmethod
    def greeting(self) -> str:
        """The agent's first words on the call."""

    @abstractmethod
    def reply(self, turn: CallerTurn) -> AsyncIterator[BrainEvent]:
        """The agent's response to `turn`, streamed; never silent (at least one `Say`)."""

    def reprompt(self) -> str:
        """What to say when the caller has gone quiet."""
        return "Are you still there?"

    def resume(
        self,
        captured: Mapping[str, FieldScalar],
        transcript: Sequence[TurnEvent],  # noqa: ARG002 - brains with a history replay it
    ) -> str:
        """Pick up a call whose media stream was lost (a crash, a deploy): `captured` and
        `transcript` are the call so far, as its workflow kept them. Returns the re-entry line,
        said in place of the greeting."""
        for name, value in captured.items():
            self.manager.track_progress(name, value)
        return f"{CUT_OFF} {self.reprompt()}"

    def listening_context(self) -> str:
        """Words the caller's next answer is likely to hold (the question just asked, its
        options), to bias speech recognition; "" for none."""
        return ""

    def fork(self) -> Brain | None:
        """An independent copy to answer a turn speculatively (before the caller has surely
        finished), adopted if the turn ends as guessed; None if this brain cannot fork."""
        return None

    def heard(self, text: str, *, interrupted: bool) -> None:  # noqa: B027 - optional hook
        """What the caller actually heard of the last reply (less than it said, if interrupted)."""
