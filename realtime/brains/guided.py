"""GuidedBrain: a deterministic, LLM-free conversation driven by the GoalManager.

It asks for the missing required data in the GoalManager's order, pulls typed values out of the
caller's words (dates and times, numbers, yes/no, names, phones, emails, enum options, free
text), reads the captures back for confirmation, takes corrections ("no, Wednesday") and closes
when the goals are met. It runs when no LLM is configured and whenever the LLM brain fails a
turn, so every path ends in something to say: the caller never hears silence.

Deterministic given `today`: relative dates ("next Tuesday") are resolved against it, never
against the wall clock, so a test (or a replay) hears the same answer every time.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field

from core.agents.snapshot import AgentSnapshot
from core.fields import DataField, FieldType
from core.fields.values import FieldScalar
from core.goals.manager import GoalManager, NextAction
from realtime.brains.base import (
    Brain,
    BrainEvent,
    CallerTurn,
    Captured,
    EndCall,
    FirstToken,
    Rejected,
    Say,
)
from realtime.brains.extraction import (
    extract_date,
    extract_email,
    extract_enum,
    extract_free_text,
    extract_name,
    extract_number,
    extract_phone,
    extract_time,
    extract_yes_no,
    field_hint,
    is_name_field,
    speak_value,
)

CLOSING = "Thanks, you're all set. Goodbye!"


@dataclass(frozen=True)
class BrainReply:
    """What the agent says after one caller turn, and what that turn captured."""

    text: str
    captured: dict[str, FieldScalar] = field(default_factory=dict)
    """Fields accepted this turn, in canonical form."""
    rejected: dict[str, str] = field(default_factory=dict)
    """Fields the turn tried and failed to fill, with the reason."""
    end_call: bool = False


# -- the brain ------------------------------------------------------------------------------------


@dataclass
class _Turn:
    captured: dict[str, FieldScalar] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)


def reply_events(answer: BrainReply, *, source: str = "guided") -> list[BrainEvent]:
    """A whole `BrainReply` as the events of the streaming brain interface."""
    events: list[BrainEvent] = [FirstToken(source)]
    events += [Captured(name, value) for name, value in answer.captured.items()]
    events += [Rejected(name, reason) for name, reason in answer.rejected.items()]
    events.append(Say(answer.text))
    if answer.end_call:
        events.append(EndCall("completed"))
    return events


class GuidedBrain(Brain):
    """Asks, extracts, confirms and closes by the GoalManager's order; no LLM, no clock."""

    def __init__(self, agent: AgentSnapshot, *, today: dt.date, timezone_name: str = "UTC") -> None:
        """Start a conversation for `agent`; relative dates resolve against `today`."""
        self.agent = agent
        self.today = today
        self.timezone_name = timezone_name
        """The zone `today` is in; kept for the caller's records (dates carry no zone)."""
        self.manager = GoalManager(agent.goals)
        self._fields = self.manager.fields
        self._failures: dict[str, int] = {}
        self._correcting = False
        self._correcting_field: str | None = None

    # -- public -----------------------------------------------------------------------------------

    def greeting(self) -> str:
        """The opening line: the agent's greeting, then the first question."""
        opening = self.agent.greeting or f"Hello, you've reached {self.agent.name}."
        action = self.manager.get_next_action()
        return opening if action.kind == "close" else f"{opening} {self._prompt(action)}"

    async def reply(self, turn: CallerTurn) -> AsyncIterator[BrainEvent]:
        """`respond` (or `respond_dtmf` for keypad digits) as brain events."""
        answer = self.respond_dtmf(turn.digits) if turn.digits else self.respond(turn.text)
        for event in reply_events(answer):
            yield event

    def fork(self) -> GuidedBrain:
        """A copy with its own goal progress and conversation state (the agent is shared)."""
        clone = copy.copy(self)
        clone.manager = copy.deepcopy(self.manager)
        clone._failures = dict(self._failures)
        return clone

    def reprompt(self) -> str:
        """What to say when the caller has gone quiet: a nudge, then the open question again."""
        action = self.manager.get_next_action()
        nudge = "Are you still there?"
        return nudge if action.kind == "close" else f"{nudge} {self._prompt(action)}"

    def capture(self, caller_text: str) -> tuple[dict[str, FieldScalar], dict[str, str]]:
        """Track what `caller_text` clearly states into the manager, with no reply.

        Returns the captured and the rejected fields. A backstop for a brain whose model may not
        report what it heard: stricter than `respond`, because the words may answer a question
        other than the one the GoalManager would ask. Free text (names too) counts only when the
        caller labels it ("my name is Ana"); a typed field being asked for is read as the answer;
        confirmed fields are left alone. Conversation state (reprompt counts) is untouched.
        """
        action = self.manager.get_next_action()
        target = action.field if action.kind == "ask" else None
        if target is not None and self._fields[target].type is FieldType.TEXT:
            target = None
        confirmed = self.manager.confirmed
        unconfirmed = [n for n in self.manager.field_names if n not in confirmed]
        turn = self._extract(caller_text, target=target, others=unconfirmed)
        return turn.captured, turn.rejected

    def next_line(self, captured: Mapping[str, FieldScalar] | None = None) -> str:
        """What this brain says next: an acknowledgement of `captured`, then the open question,
        the read-back or the closing line."""
        return self._reply(_Turn(captured=dict(captured or {}))).text

    def respond(self, caller_text: str) -> BrainReply:
        """The agent's reply to one caller utterance (never empty)."""
        text = caller_text.strip()
        action = self.manager.get_next_action()
        if action.kind == "close":
            return BrainReply(CLOSING, end_call=True)
        if not text:
            return BrainReply(f"Sorry, I didn't catch that. {self._prompt(action)}")
        if action.kind == "confirm":
            return self._respond_confirm(action, text)
        assert action.field is not None
        turn = self._extract(text, target=action.field, others=self._missing())
        if action.field not in turn.captured and not turn.captured:
            return self._reprompt(action, turn)
        return self._reply(turn)

    def respond_dtmf(self, digits: str) -> BrainReply:
        """The reply to keypad digits: the answer itself, or 1 = yes / 2 = no on a read-back."""
        keys = re.sub(r"[^0-9]", "", digits)
        action = self.manager.get_next_action()
        if action.kind == "close":
            return BrainReply(CLOSING, end_call=True)
        if action.kind == "confirm" or (
            action.field and self._fields[action.field].type is FieldType.BOOLEAN
        ):
            if keys in ("1", "2"):
                return self.respond("yes" if keys == "1" else "no")
        elif action.field is not None and keys:
            data_field = self._fields[action.field]
            raw: object = None
            if data_field.type in (FieldType.PHONE, FieldType.NUMBER):
                raw = keys
            elif data_field.type is FieldType.ENUM and 1 <= int(keys) <= len(data_field.options):
                raw = data_field.options[int(keys) - 1]
            if raw is not None:
                turn = _Turn()
                self._track(turn, action.field, raw)
                return self._reply(turn) if turn.captured else self._reprompt(action, turn)
        hint = "Press 1 for yes or 2 for no." if action.kind == "confirm" else ""
        return BrainReply(
            f"Sorry, I couldn't use those keys. {hint} {self._prompt(action)}".replace("  ", " ")
        )

    # -- turns ------------------------------------------------------------------------------------

    def _respond_confirm(self, action: NextAction, text: str) -> BrainReply:
        answer = extract_yes_no(text)
        if self._correcting_field is not None:
            target, self._correcting_field = self._correcting_field, None
            turn = self._extract(text, target=target, others=action.fields)
        else:
            turn = (
                self._extract(text, target=None, others=action.fields)
                if answer is not True
                else _Turn()
            )
        if turn.captured:
            self._correcting = False
            return self._reply(turn)
        if answer is True and not self._correcting:
            self.manager.confirm(action.fields)
            return self._reply(turn)
        if answer is False or self._correcting:
            named = [
                n for n in action.fields if self._describe(n) in text.lower() or n in text.lower()
            ]
            if named:
                self._correcting_field = named[0]
                self._correcting = False
                return BrainReply(
                    f"Sure. What should the {self._describe(named[0])} be?", rejected=turn.rejected
                )
            self._correcting = True
            return BrainReply("No problem. Which detail should I change?", rejected=turn.rejected)
        return BrainReply(
            f"Sorry, please say yes or no. {self._prompt(action)}", rejected=turn.rejected
        )

    def _reply(self, turn: _Turn) -> BrainReply:
        for name in turn.captured:
            self._failures.pop(name, None)
        action = self.manager.get_next_action()
        ack = self._acknowledge(turn.captured) if turn.captured else ""
        if action.kind == "close":
            return BrainReply(
                " ".join(p for p in (ack, CLOSING) if p), turn.captured, turn.rejected, True
            )
        prompt = self._prompt(action)
        return BrainReply(" ".join(p for p in (ack, prompt) if p), turn.captured, turn.rejected)

    def _reprompt(self, action: NextAction, turn: _Turn) -> BrainReply:
        assert action.field is not None
        count = self._failures.get(action.field, 0) + 1
        self._failures[action.field] = count
        lead = "Sorry, I didn't catch that." if count == 1 else "Sorry, I still didn't get that."
        reason = turn.rejected.get(action.field, "not understood")
        rejected = {**turn.rejected, action.field: reason}
        text = f"{lead} {field_hint(self._fields[action.field])} {self._prompt(action)}"
        return BrainReply(text, {}, rejected)

    # -- extraction into the manager --------------------------------------------------------------

    def _missing(self) -> tuple[str, ...]:
        captured = self.manager.captured
        return tuple(n for n in self.manager.field_names if n not in captured)

    def _extract(self, text: str, *, target: str | None, others: Iterable[str]) -> _Turn:
        turn = _Turn()
        names = ([target] if target else []) + [n for n in others if n != target]
        for name in names:
            raw = self._value_for(self._fields[name], text, asked=name == target)
            if raw is not None:
                self._track(turn, name, raw)
        return turn

    def _track(self, turn: _Turn, name: str, raw: object) -> None:
        result = self.manager.track_progress(name, raw)
        if result.accepted and result.value is not None:
            turn.captured[name] = result.value
        else:
            turn.rejected[name] = result.reason

    def _value_for(self, data_field: DataField, text: str, *, asked: bool) -> object:
        kind = data_field.type
        if kind is FieldType.DATE:
            return extract_date(text, self.today)
        if kind is FieldType.TIME:
            found = extract_time(text)
            return found[0] if found else None
        if kind is FieldType.PHONE:
            return (
                extract_phone(text) if asked or re.search(r"\d{7,}|(?:\d\D?){7,}", text) else None
            )
        if kind is FieldType.EMAIL:
            return extract_email(text)
        if kind is FieldType.ENUM:
            return extract_enum(text, data_field.options)
        if kind is FieldType.NUMBER:
            return extract_number(text) if asked or "$" in text else None
        if kind is FieldType.BOOLEAN:
            return extract_yes_no(text) if asked else None
        if is_name_field(data_field):
            return extract_name(text, asked=asked)
        return self._free_text(data_field, text, asked=asked)

    def _free_text(self, data_field: DataField, text: str, *, asked: bool) -> str | None:
        label = re.escape(self._describe(data_field.name))
        described = re.search(rf"\b{label}\s+(?:is|should be|would be)\s+(?P<v>.+)", text, re.I)
        if described:
            return extract_free_text(described["v"])
        return extract_free_text(text) if asked else None

    # -- phrasing ---------------------------------------------------------------------------------

    def _describe(self, name: str) -> str:
        data_field = self._fields[name]
        description = (data_field.description or name.replace("_", " ")).strip().rstrip("?.")
        return re.sub(
            r"^(?:the |your |customer |caller(?:'s)? )", "", description, flags=re.I
        ).lower()

    def _prompt(self, action: NextAction) -> str:
        if action.kind == "confirm":
            return self._confirmation(action.fields)
        assert action.field is not None
        data_field = self._fields[action.field]
        description = self._describe(action.field)
        question = (
            f"What is your {description}?"
            if len(description.split()) <= 4
            else f"Could you tell me {description}?"
        )
        if data_field.type is FieldType.ENUM:
            *rest, last = data_field.options
            question += f" The options are {', '.join(rest)} or {last}." if rest else ""
        return question

    def _confirmation(self, names: Iterable[str]) -> str:
        captured = self.manager.captured
        parts = [f"{self._describe(n)} {speak_value(self._fields[n], captured[n])}" for n in names]
        listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])}, and {parts[-1]}"
        return f"Let me confirm: {listed}. Is that right?"

    def _acknowledge(self, captured: Mapping[str, FieldScalar]) -> str:
        spoken = {n: speak_value(self._fields[n], v) for n, v in captured.items()}
        dates = [n for n in spoken if self._fields[n].type is FieldType.DATE]
        times = [n for n in spoken if self._fields[n].type is FieldType.TIME]
        if dates and times:
            spoken[dates[0]] = f"{spoken[dates[0]]} at {spoken.pop(times[0])}"
        return f"Got it, {', '.join(spoken.values())}."
