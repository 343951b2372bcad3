"""Reading one caller utterance for every open field: which words state which field's value.

The field readers (`core.fields.reading`) each read one field from words; this module decides
which field gets which words when one utterance holds several ("a table for four this Friday at
seven"), and how a correction is read ("not Tuesday, Wednesday", "I have a meeting at two, can we
do ten thirty instead?", "the company name is Vantage"). It only reads: the guided brain tracks
what it returns into the GoalManager and decides what to say.

Order matters, and is fixed: a phone number first (seven digits or more are never a count or a
time), then the field just asked when its words are typed (a bare "seven" answers "what time?"),
the other typed fields, and free text last, on the words nothing else took — the asked free-text
field after every other field's cue ("before the end of Q2" is a timeline, whatever was asked).
A date and a time may share words ("next Friday at three" is one phrase to Duckling).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from core.agents.snapshot import AgentSnapshot
from core.fields import DataField, FieldScalar, FieldType
from core.fields.choices import SimilarityFunction, clean_answer
from core.fields.contact import read_digits
from core.fields.phrasing import label
from core.fields.reading import ReadContext, is_name_field, read_value
from core.fields.speech import Reading, blank

SHORT_ANSWER_WORDS: Final = 4
# Words of a sentence about the speaker, not of a value: "we're thinking", "I guess".
_SPEAKERS: Final = frozenset("i i'm i'd i've we we're we'd we've you you're they they're".split())
_READ_ORDER: Final = (
    FieldType.PHONE,
    FieldType.EMAIL,
    FieldType.DATE,
    FieldType.TIME,
    FieldType.ENUM,
    FieldType.NUMBER,
    FieldType.BOOLEAN,
    FieldType.TEXT,
)
_CLOCK: Final = (FieldType.DATE, FieldType.TIME)
SYNONYMS: Final[dict[FieldType, set[str]]] = {
    FieldType.DATE: {"day", "date"},
    FieldType.TIME: {"time"},
    FieldType.PHONE: {"number", "phone number", "phone"},
    FieldType.EMAIL: {"email", "email address"},
}
"""What callers call a field of each type besides its own name ("the day is wrong")."""
# "Tuesday, no wait, Wednesday": the words after the last of these replace the ones before.
SELF_CORRECTION: Final = re.compile(
    r"\b(?:no wait|wait no|actually|i mean|i meant|or rather|sorry|make that|make it|no no|"
    r"instead|i said|scratch that|oops)\b"
)
# "not Tuesday, Wednesday": the value after "not" is the one being withdrawn.
_WITHDRAWN: Final = re.compile(r"\bnot (?:on |at |the )?[a-z0-9:' ]+?(?=,|\bbut\b|$)")
_PEOPLE_OR_MONEY: Final = re.compile(
    r"\$|\d\s*k\b|\bk\b|thousand|million|grand|hundred|dollars?|bucks|people|persons|adults|"
    r"kids|children|guests|of us|party|table for|me and|just me|budget"
)
_EVENING_BUSINESS: Final = re.compile(
    r"\b(?:restaurant|trattoria|bistro|dinner|dining|table|pub|bar|grill|steakhouse|pizzeria|"
    r"brasserie|tavern|cinema|theater|theatre|bowling|karaoke)\b"
)


@dataclass(frozen=True)
class ReadingRules:
    """How freely this turn's words may be taken as a free-text answer."""

    whole_answers: bool = True
    """The whole answer may be the value (else only what a cue word introduces): not for "no,
    that's not right" or a question back."""
    opening: bool = False
    """The turn answers "How can I help?": only a short answer is wholly the value."""


ANY_ANSWER: Final = ReadingRules()
"""The rules of an ordinary turn: a whole answer may be a free-text value."""


@dataclass
class Heard:
    """What one utterance states: raw values by field, in the order they were read."""

    values: dict[str, FieldScalar] = field(default_factory=dict)


def opening_hour(agent: AgentSnapshot) -> int:
    """When a business's day starts, read from what the agent is: a place that serves evenings
    (restaurant, bar, theatre) takes 11 to 10 as its hours, anything else 7 AM to 6 PM."""
    about = " ".join(
        [agent.name, agent.description, *(g.name + " " + g.description for g in agent.goals)]
    ).lower()
    return 11 if _EVENING_BUSINESS.search(about.replace("_", " ")) else 7


def written_as_name(text: str) -> bool:
    """Whether the recogniser wrote the words as a name: two or three capitalised words and
    nothing else ("Graham Whitley"), not a sentence that merely starts with a capital."""
    tokens = re.findall(r"[A-Za-z][A-Za-z'-]*", text)
    return 2 <= len(tokens) <= 3 and all(t[0].isupper() for t in tokens)


class UtteranceReader:
    """Reads utterances for an agent's fields, on the call's day and the business's hours."""

    def __init__(
        self,
        fields: Mapping[str, DataField],
        *,
        today: dt.date,
        opens_at: int,
        similarity: SimilarityFunction | None,
    ) -> None:
        """`similarity` compares by meaning, for the field just asked only."""
        self.fields = fields
        self.today = today
        self.opens_at = opens_at
        self.similarity = similarity
        self.week_of: dt.date | None = None
        """The first day of a week the caller named ("next week"), for a bare weekday."""
        self.part_of_day: str | None = None
        """The part of the day the caller gave for the time ("in the afternoon"), for a clock
        said next with none of its own."""

    def read(
        self,
        text: str,
        *,
        asked: str | None,
        names: Iterable[str],
        captured: Mapping[str, FieldScalar],
        correcting: bool = False,
        asking: str | None = None,
        rules: ReadingRules = ANY_ANSWER,
    ) -> Heard:
        """Every field in `names` that `text` (normalised) states, each from its own words.

        `captured` holds the values so far (a correction is read against them); `correcting`:
        the caller may be changing captured values; `asking`: a field the caller chose to
        correct, whose value said again is a new answer, not a repeat.
        """
        heard = Heard()
        names = list(names)
        for withdrawn in _WITHDRAWN.finditer(text):
            text = blank(text, [withdrawn.span()])
        read = _Pass(self, captured, rules, asking)
        labelled = self._labelled(text, names)
        if labelled is not None:
            # "The company name is Vantage": the caller says which field the words are for.
            name, start = labelled
            read.into(heard, f"{' ' * start}{text[start:]}", asked=name, names=[name], fix=True)
            if heard.values:
                return heard
        corrections = list(SELF_CORRECTION.finditer(text))
        if corrections:  # read what was said last first; the rest only for fields it lacks
            cut = corrections[-1].end()
            read.into(heard, f"{' ' * cut}{text[cut:]}", asked=asked, names=names, fix=correcting)
            rest = [n for n in names if n not in heard.values]
            read.into(
                heard, blank(text, [(cut, len(text))]), asked=asked, names=rest, fix=correcting
            )
            return heard
        read.into(heard, text, asked=asked, names=names, fix=correcting)
        return heard

    def names_field(self, text: str, name: str) -> bool:
        """Whether `text` names the field ("the time", "my number")."""
        words = set(re.findall(r"[a-z]+", text))
        data_field = self.fields[name]
        field_words = set(label(data_field).split()) | set(name.split("_"))
        synonyms = {w for phrase in SYNONYMS.get(data_field.type, set()) for w in phrase.split()}
        return bool(words & (field_words | synonyms) - {"the", "of", "a"})

    def context(self, *, asked: bool, similarity: SimilarityFunction | None = None) -> ReadContext:
        """What a field reader may know on this call."""
        return ReadContext(
            today=self.today,
            asked=asked,
            similarity=similarity,
            opens_at=self.opens_at,
            week_of=self.week_of,
            part_of_day=self.part_of_day,
        )

    def _labelled(self, text: str, names: list[str]) -> tuple[str, int] | None:
        """The field a "the <field> is …" phrase names, and where its value starts."""
        for name in names:
            data_field = self.fields[name]
            words = {label(data_field), name.replace("_", " ")} | SYNONYMS.get(
                data_field.type, set()
            )
            pattern = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
            match = re.search(
                rf"\b(?:the|my|our|your)? ?(?:{pattern}) (?:is|was|should be|would be|will be|"
                rf"'s|is actually|needs to be)\b",
                text,
            )
            if match:
                return name, match.end()
        return None


@dataclass
class _Pass:
    """One reading of an utterance (or of a part of it) under one turn's rules."""

    reader: UtteranceReader
    captured: Mapping[str, FieldScalar]
    rules: ReadingRules
    asking: str | None

    def into(
        self, heard: Heard, text: str, *, asked: str | None, names: list[str], fix: bool
    ) -> None:
        fields = self.reader.fields
        order = sorted(
            names,
            key=lambda n: (
                fields[n].type is not FieldType.PHONE,
                n != asked or fields[n].type is FieldType.TEXT,
                _READ_ORDER.index(fields[n].type),
                n == asked,
            ),
        )
        taken: list[tuple[int, int, bool]] = []
        for name in order:
            data_field = fields[name]
            clock = data_field.type in _CLOCK
            remaining = blank(
                text, [(a, b) for a, b, by_clock in taken if not (clock and by_clock)]
            )
            if not remaining.strip(" ,."):
                break
            reading = self._reading(
                name, remaining, asked=name == asked, others=bool(taken), fix=fix
            )
            if reading is None:
                continue
            heard.values[name] = self._as_meant(name, reading.value, remaining, fix=fix)
            taken.append((reading.start, reading.end, clock))

    def _reading(
        self, name: str, text: str, *, asked: bool, others: bool, fix: bool
    ) -> Reading | None:
        data_field = self.reader.fields[name]
        # Meaning-level matching only for the question just asked: elsewhere an option must
        # be said in so many words, or every sentence would choose one.
        similarity = self.reader.similarity if asked else None
        reading = read_value(
            data_field, text, self.reader.context(asked=asked, similarity=similarity)
        )
        if reading is not None and fix and data_field.type is not FieldType.TEXT:
            reading = self._last_said(data_field, text, reading)
        if reading is not None and asked and data_field.type is FieldType.TEXT:
            reading = self._free_text(data_field, text, reading, others=others)
        if reading is None and fix and data_field.type is FieldType.PHONE:
            ending = _phone_ending(self.captured.get(name), text)
            reading = Reading(ending, 0, len(text)) if ending else None
        if reading is None:
            return None
        if not asked and data_field.type is FieldType.NUMBER and not _PEOPLE_OR_MONEY.search(text):
            return None  # a number nobody asked for needs words that say what it counts
        if data_field.type is FieldType.TEXT and not is_name_field(data_field):
            if not clean_answer(text[reading.start : reading.end] or str(reading.value)):
                return None
        return reading

    def _as_meant(self, name: str, value: FieldScalar, text: str, *, fix: bool) -> FieldScalar:
        """A value in the terms of the one it corrects."""
        before = self.captured.get(name)
        if fix:
            value = _as_correction_of(before, value, text)
        fixing = fix or name == self.asking
        if before == value and fixing and self.reader.fields[name].type is FieldType.TIME:
            value = _other_half_of_day(str(value))  # "no, seven" to a read-back of 7 AM
        return value

    def _last_said(self, data_field: DataField, text: str, first: Reading) -> Reading:
        """In a correction the value said last is the one meant ("I have a meeting at two, can
        we do ten thirty instead?"); after a first value, a bare one counts too."""
        latest = first
        context = self.reader.context(asked=True)
        while latest.end < len(text):
            later = read_value(data_field, blank(text, [(0, latest.end)]), context)
            if later is None or later.start < latest.end:
                break
            latest = later
        return latest

    def _free_text(
        self, data_field: DataField, text: str, reading: Reading, *, others: bool
    ) -> Reading | None:
        """The answer to a free-text question, under this turn's rules. `others`: other fields
        already took words of this utterance, so what is left is the answer only if it is short
        and no sentence of its own ("we're thinking a year")."""
        rules = self.rules
        if is_name_field(data_field) and rules.whole_answers:
            return reading
        cued = read_value(data_field, text, self.reader.context(asked=False))
        if cued is not None:
            return cued
        if not rules.whole_answers:
            return None
        words = clean_answer(text).split()
        if (rules.opening or others) and len(words) > SHORT_ANSWER_WORDS:
            return None
        if others and set(words) & _SPEAKERS:
            return None
        return reading


def _as_correction_of(before: FieldScalar | None, value: FieldScalar, text: str) -> FieldScalar:
    """A corrected number in the terms of the one it corrects: "35, not 45" to a budget of
    45,000 is 35,000."""
    if isinstance(before, float) and isinstance(value, float):
        if before >= 1000 and value < 1000 and not re.search(r"\b(?:hundred|dollars?)\b", text):
            return value * 1000
    return value


def _phone_ending(before: FieldScalar | None, text: str) -> str | None:
    """ "No, it ends in six one": the captured number with its last digits replaced."""
    if not isinstance(before, str):
        return None
    tail = re.search(r"\bends? (?:in|with) (?P<digits>.+)$", text)
    digits = read_digits(tail["digits"]) if tail else ""
    if not digits or len(digits) >= len(before.lstrip("+")):
        return None
    return before[: len(before) - len(digits)] + digits


def _other_half_of_day(clock: str) -> str:
    hour, minute = (int(part) for part in clock.split(":"))
    return f"{(hour + 12) % 24:02d}:{minute:02d}"
