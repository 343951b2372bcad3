"""What the agent's last words asked of the caller, judged from those words alone.

The simulated caller never looks at the agent's internal state to know what it was asked: like a
person on the phone it hears a sentence and works out whether it is a question about one of the
things it knows (which one, by topic words), a read-back to confirm, "anything else?", a
question whether to go on, a goodbye, an open "how can I help?", or nothing it can tell.
The questions in the agent's words weigh most: "Got it, Friday. What time works?" asks the time.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from workers.eval.topics import best_fields

HeardKind = Literal[
    "ask", "readback", "which_wrong", "anything_else", "continue", "goodbye", "open", "unclear"
]

READBACK_CUES = (
    "confirm",
    "is that right",
    "is that correct",
    "is this correct",
    "is this right",
    "correct",
    "sound right",
    "sounds right",
    "look right",
    "read that back",
    "read it back",
    "read back",
    "did i get",
    "have i got",
    "got that right",
)
WHICH_WRONG_CUES = (
    "which detail",
    "which details",
    "which part",
    "which one should i change",
    "what should i change",
    "what would you like to change",
    "what would you like me to change",
    "what needs to change",
    "what did i get wrong",
)
CONTINUE_CUES = (
    "continue",
    "carry on",
    "keep going",
    "finish",
    "still like to",
    "still want to",
    "wrap up",
    "before you go",
    "go ahead with",
)
ANYTHING_ELSE_CUES = ("anything else", "something else", "else i can", "else can i")
GOODBYE_CUES = ("goodbye", "bye", "have a great day", "have a nice day", "take care")
OPEN_CUES = (
    "how can i help",
    "how may i help",
    "how can we help",
    "how can i assist",
    "what can i do for you",
    "what brings you",
    "what are you calling about",
)
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


@dataclass(frozen=True)
class Heard:
    """What the caller understood it was asked."""

    kind: HeardKind
    fields: tuple[str, ...] = ()
    """For "ask": the fields the question points at most (ties kept, in the agent's order)."""

    @property
    def note(self) -> str:
        """In words, for transcripts: "heard: ask date", "heard: readback"."""
        if self.kind == "ask":
            return f"heard: ask {', '.join(self.fields)}"
        return f"heard: {self.kind}"


def hear(
    agent_text: str,
    topics: Mapping[str, Sequence[str]],
    *,
    recorded: Collection[str] = (),
) -> Heard:
    """What `agent_text` asks, given each field's topic phrases and the fields already recorded
    (a "confirm" about a field the agent does not have yet is a question about it)."""
    text = _normal(agent_text)
    focus = _focus(agent_text)
    asked = tuple(best_fields(focus, topics))
    if _has(focus, WHICH_WRONG_CUES):
        return Heard("which_wrong")
    if _has(focus, READBACK_CUES) or (
        not asked and _has(text, ("let me confirm", "to confirm", "read that back"))
    ):
        if asked and not any(name in recorded for name in asked):
            return Heard("ask", asked)
        return Heard("readback")
    if _has(focus, CONTINUE_CUES):
        return Heard("continue")
    if _has(focus, ANYTHING_ELSE_CUES):
        return Heard("anything_else")
    if asked:
        return Heard("ask", asked)
    if _has(focus, OPEN_CUES):
        return Heard("open")
    if _has(text, GOODBYE_CUES):
        return Heard("goodbye")
    anywhere = tuple(best_fields(text, topics))
    if anywhere and "?" not in agent_text:
        # No question at all ("Please tell me your phone number."): a request is asking too.
        return Heard("ask", anywhere)
    return Heard("unclear")


def _focus(agent_text: str) -> str:
    """The part of the agent's words a caller answers: its questions, else its last sentence."""
    sentences = [s for s in _SENTENCE_END.split(agent_text.strip()) if s]
    questions = [s for s in sentences if s.rstrip().endswith("?")]
    return _normal(" ".join(questions) if questions else (sentences[-1] if sentences else ""))


def _normal(text: str) -> str:
    words = re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("’", "'"))
    return f" {' '.join(words)} "


def _has(normal_text: str, cues: Sequence[str]) -> bool:
    return any(f" {cue} " in normal_text for cue in cues)
