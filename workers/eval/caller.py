"""The adaptive simulated caller: an honest person who knows the scenario's facts.

It hears only the agent's words. Each turn it works out what it was asked (`hearing.hear`) and
answers the way the scenario says it would: the next unused phrasing of the fact asked for (the
last one again once they run out), a plain yes to a correct read-back or a correction of the
first detail read back wrong (also when asked which detail to change), "no, that's all" to
"anything else?", and agreement to go on when
asked whether to continue. Script moves take precedence, each once and in order, when their
trigger comes. A caller that cannot tell what it was asked says so; the third time in a row it
hangs up.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from core.fields import DataField, FieldScalar, FieldType
from workers.eval.hearing import Heard, hear
from workers.eval.scenario import Scenario, ScriptMove
from workers.eval.topics import topic_phrases
from workers.eval.truth import Truth, matches, parse_truth

CONFUSED = "Sorry, what do you need from me?"
GIVE_UP = "Sorry, I'll call back later."
NOTHING_ELSE = "No, that's all, thanks."
GO_ON = "Yes, let's continue."
BYE = "Bye, thanks."
ALL_RIGHT = "Actually, it's all correct."
YESES = ("Yes.", "Yep, that's right.", "Correct.")
CONFUSIONS_TO_HANG_UP = 3


@dataclass(frozen=True)
class CallerLine:
    """What the caller says next, and whether it hangs up after saying it."""

    text: str
    heard: Heard
    """What the caller understood the agent's last words to ask."""
    hangup: bool = False
    failure: str | None = None
    """Why the call failed, when the caller hangs up because it gave up."""
    scripted: bool = False
    move: ScriptMove | None = None
    """The script move this line is (its answer checks apply to the agent's reply)."""


class AdaptiveCaller:
    """Chooses each caller line from the agent's last words and the scenario."""

    def __init__(
        self, scenario: Scenario, fields: Mapping[str, DataField], truths: Mapping[str, Truth]
    ) -> None:
        """A caller for `scenario` against an agent with `fields`; `truths` are its facts."""
        self.scenario = scenario
        self.fields = fields
        self.truths = truths
        self.topics = {
            name: topic_phrases(field, scenario.topics.get(name, ()))
            for name, field in fields.items()
        }
        self.recorded: dict[str, FieldScalar] = {}
        """What the agent recorded so far (its `Captured` events): what it heard."""
        # What the caller can say, in the order it would offer it: its facts (judged or not),
        # then whatever else it has phrasings for.
        self._answerable = [
            n for n in dict.fromkeys([*scenario.facts, *scenario.say]) if n in fields
        ]
        self._tries: dict[str, int] = {}
        self._moves: deque[ScriptMove] = deque(scenario.script)
        self._turns = 0
        self._confusions = 0
        self._yeses = 0

    @property
    def unused_moves(self) -> list[ScriptMove]:
        """Script moves whose trigger never came."""
        return list(self._moves)

    def note_captured(self, name: str, value: FieldScalar) -> None:
        """The agent recorded `value` for field `name`."""
        self.recorded[name] = value

    def next_line(self, agent_text: str) -> CallerLine:
        """The caller's answer to the agent's last words."""
        self._turns += 1
        heard = hear(agent_text, self.topics, recorded=self.recorded)
        move = self._move(heard)
        if move is not None:
            self._confusions = 0
            return CallerLine(move.say, heard, hangup=move.hangup, scripted=True, move=move)
        line = self._answer(heard)
        if line is None:
            self._confusions += 1
            if self._confusions >= CONFUSIONS_TO_HANG_UP:
                failure = (
                    f"the caller could not tell what the agent wanted "
                    f"{CONFUSIONS_TO_HANG_UP} times in a row and hung up"
                )
                return CallerLine(GIVE_UP, heard, hangup=True, failure=failure)
            return CallerLine(CONFUSED, heard)
        self._confusions = 0
        return line

    # -- answers ----------------------------------------------------------------------------------

    def _move(self, heard: Heard) -> ScriptMove | None:
        if not self._moves:
            return None
        head = self._moves[0]
        asked = head.asked_field
        due = (
            (head.on == "start" and self._turns == 1)
            or head.on == "next"
            or (head.on == "readback" and heard.kind == "readback")
            or (asked is not None and heard.kind == "ask" and asked in heard.fields)
        )
        if head.on == "start" and self._turns > 1:
            self._moves.popleft()  # its moment has passed
            return self._move(heard)
        return self._moves.popleft() if due else None

    def _answer(self, heard: Heard) -> CallerLine | None:
        if heard.kind == "ask":
            field = next((n for n in heard.fields if n in self._answerable), None)
            return CallerLine(self.phrase(field), heard) if field is not None else None
        if heard.kind == "readback":
            return CallerLine(self._read_back_answer(), heard)
        if heard.kind == "which_wrong":
            wrong = self._first_wrong()
            text = ALL_RIGHT if wrong is None else f"The {self._correction(wrong)}."
            return CallerLine(text, heard)
        if heard.kind == "anything_else":
            return CallerLine(NOTHING_ELSE, heard)
        if heard.kind == "continue":
            return CallerLine(GO_ON, heard)
        if heard.kind == "goodbye":
            return CallerLine(BYE, heard, hangup=True)
        if heard.kind == "open":
            waiting = [n for n in self._answerable if n not in self.recorded]
            return CallerLine(self.phrase(waiting[0]), heard) if waiting else None
        return None

    def _read_back_answer(self) -> str:
        wrong = self._first_wrong()
        if wrong is not None:
            return f"No, the {self._correction(wrong)}."
        answer = YESES[self._yeses % len(YESES)]
        self._yeses += 1
        return answer

    def _first_wrong(self) -> str | None:
        """The first fact the agent recorded wrong, in the scenario's order."""
        for name, truth in self.truths.items():
            recorded = self.recorded.get(name)
            if recorded is not None and not matches(self.fields[name], truth, recorded):
                return name
        return None

    def _correction(self, name: str) -> str:
        return f"{field_words(self.fields[name])} is {self.phrase(name)}"

    def phrase(self, name: str) -> str:
        """The next unused way of saying field `name` (the last one again once all are used)."""
        tries = self._tries.get(name, 0)
        self._tries[name] = tries + 1
        field = self.fields[name]
        phrasings = self.scenario.say.get(name) or [
            spoken_truth(field, parse_truth(field, self.scenario.facts[name]))
        ]
        return phrasings[min(tries, len(phrasings) - 1)]


def field_words(data_field: DataField) -> str:
    """How a caller names a field in a correction: its description when that is a short noun
    phrase ("preferred date"), else its name's words ("decision maker")."""
    words = data_field.description.strip().rstrip(".?").lower().split()
    while words and words[0] in _DETERMINERS:
        words = words[1:]
    if words and len(words) <= 4 and words[0] not in _QUESTION_WORDS:
        return " ".join(words)
    return data_field.name.replace("_", " ")


_DETERMINERS = frozenset({"the", "a", "an", "your", "their", "his", "her", "its", "our", "my"})
_QUESTION_WORDS = frozenset({"who", "what", "when", "where", "which", "how", "why", "whether"})


def spoken_truth(data_field: DataField, truth: Truth) -> str:
    """A plain way to say a fact, for facts the scenario gives no phrasing for."""
    value = truth[0] if isinstance(truth, list) else truth
    if data_field.type is FieldType.DATE and isinstance(value, str):
        day = dt.date.fromisoformat(value)
        return f"{day:%A, %B} {day.day}"
    if data_field.type is FieldType.TIME and isinstance(value, str):
        hour, minute = (int(part) for part in value.split(":"))
        clock = f"{hour % 12 or 12}" + (f":{minute:02d}" if minute else "")
        return f"{clock} {'am' if hour < 12 else 'pm'}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else str(value)
    return value
