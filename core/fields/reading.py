"""Reading a field's value from what the caller said: one entry point, `read_value`.

Each field type has one reader. They take the normalised words (`core.fields.speech`) and give
a `Reading` — a value `core.fields.values` accepts, and where it was said — or None. None is
the right answer for "hold on a second", "let me check" or "I'm not sure": a reader never
guesses a value out of words that do not state one.

The libraries, chosen on the phrase table in `tests/core/fields/phrases.yaml` (`make test`
checks them there; `tests/core/fields/survey.py` prints the comparison). Each library was run
alone on the entries of a type; "read 31 of 51" counts the entries it got right, those that
state no value (where reading nothing is right) included:

- **Duckling** (`core.fields.entities`) for dates, times, numbers and amounts. Alone it read
  48 of 51 dates, 33 of 47 times and 26 of 33 numbers, in 0.25 ms a phrase or less: times with
  parts of the day ("quarter to nine in the evening"), relative dates ("monday the 7th", "the
  day after tomorrow") and amounts ("a hundred and twenty grand"). `dateparser` read 31 of 51
  dates and 16 of 47 times (9 of the 40 that state a time: "three in the afternoon", "noon",
  "9 am", but not "half past four in the afternoon" or "quarter to nine in the evening"); it
  took "the 4th" for the 1st of April, "monday the 7th" for the 1st of July and "a week from
  today" for a week ago, at about 1 ms a date and 7 ms a time (`search_dates`: 32 and 15, at
  about 30 ms). `text2num` read 18 of 33 numbers: it only turns words into digits ("fifty k"
  stays 50; it has no idea of a time or a date).
  Duckling's gaps are patched here, each with a reason: "a week from Friday" (Duckling gives
  that Friday), clock times said without a part of the day (business hours decide; Duckling
  reads "half past four" as 04:30 and no time in "two thirty"), people counts ("me and my
  wife"; Duckling counts "three adults and two children" as 3) and halves (Duckling reads
  "half a million" as a million). With them this module reads 51 of 51 dates, 46 of 47 times
  and 33 of 33 numbers.
- **Emails** said aloud are joined by a reader of our own (`core.fields.contact`, 14 of 15),
  with Duckling after it: Duckling alone read 7 of 15, keeping only the word before "at"
  ("j doe 42 at gmail dot com" → 42@gmail.com).
- **Phone numbers** are read digit by digit by a small reader of our own (`core.fields.contact`,
  26 of 26), because callers read them in groups of words ("five five five, oh one two three",
  "double five") that no library reads: `phonenumbers` read 9 of 26 (4 of the 21 that state a
  number, all said as digits; 11 on `text2num`'s output), Duckling's phone numbers 11, and
  `text2num`'s digits 16 (it drops "oh" and "double"); `phonenumbers` then tells a real number
  from a run of digits.
- **Options** are snapped with `rapidfuzz` and `jellyfish` (sound-alike, "patty oh" → patio), a
  list of paraphrases ("outside" → patio) and, in the realtime process, sentence embeddings:
  `core.fields.choices`. `rapidfuzz` alone (`extractOne`, cutoff 60) read 12 of 32 (not
  "outside" or "the patty oh please", and "is the patio heated?" as patio); this module, with
  no embeddings, 32 of 32.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

from core.fields.choices import SimilarityFunction, read_enum, read_text
from core.fields.contact import read_email, read_name, read_phone
from core.fields.declaration import DataField, FieldType, is_name_field
from core.fields.entities import Entity, entities
from core.fields.speech import NO_WORDS, YES_WORDS, Reading

__all__ = ["ReadContext", "Reading", "is_name_field", "read_value"]

_WEEKDAY: Final = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTH: Final = (
    r"jan(?:uary)?|feb(?:ruary)?|march|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_ORDINAL_WORD: Final = (
    r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    r"thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|"
    r"thirtieth"
)
# Words that make a time entity also a date: without one, Duckling puts a bare "at 3" on today,
# which the caller never said.
_DATE_CUE: Final = re.compile(
    rf"\b(?:{_WEEKDAY}|{_MONTH}|today|tomorrow|tonight|weeks?|weekend|days?|eve|christmas|"
    rf"\d{{1,2}}(?:st|nd|rd|th)|{_ORDINAL_WORD}|\d{{1,2}}/\d{{1,2}})\b"
)
_LEADING_COUNT: Final = re.compile(
    r"^(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b(?![:.]\d|st|nd|"
    r"rd|th| (?:am|pm|o'?clock|thirty|fifteen|forty|in the))"
)
_BARE_WEEKDAY: Final = re.compile(rf"(?:on )?(?:{_WEEKDAY})")
_COUNTED: Final = re.compile(r"\b(?:table for|party of|group of|booking for|reservation for)\s*$")
_LATER_PARTS: Final = frozenset({"pm", "afternoon", "evening", "night", "tonight"})
_CLOCK_CUE: Final = re.compile(
    r"\bat \w|:\d\d|\b(?:am|pm|o'?clock|noon|midnight|midday|morning|afternoon|evening|night|"
    r"half past|quarter (?:past|to))\b"
)
_PART_OF_DAY: Final = re.compile(
    r"\b(?:am|pm|morning|afternoon|evening|night|tonight|noon|midnight|midday|lunch(?:time)?)\b"
)
# "a week from friday", "two weeks on monday", "friday week": Duckling reads the day only.
_WEEKS_FROM: Final = re.compile(
    r"\b(?P<n>a|one|two|three|1|2|3) weeks? (?:from|on|after) (?P<rest>.+)$"
    rf"|\b(?P<day>{_WEEKDAY}) week\b"
)
_WEEK_COUNTS: Final = {"a": 1, "one": 1, "1": 1, "two": 2, "2": 2, "three": 3, "3": 3}
_ALONE: Final = re.compile(r"\b(?:just|only) (?:me|myself)\b|\bjust (?:the )?one\b")
_RELATIONS: Final = (
    r"(?:wife|husband|partner|friend|son|daughter|mom|mum|dad|mother|father|boyfriend|"
    r"girlfriend|fiancee?|colleague|boss|sister|brother|kid|child|baby|guest|plus one)"
)
_PEOPLE_NOUNS: Final = (
    r"(?:people|persons|adults?|kids|children|guests|friends|colleagues|of us|others|"
    r"more|sons|daughters|brothers|sisters|babies|toddlers|teenagers|teens)\b"
)
_PEOPLE_WORDS: Final = re.compile(
    rf"\b(?:me|myself|us|we|{_RELATIONS}|people|persons|adults?|kids|children|guests|"
    rf"friends|party|table for|group)\b"
)
# "a few", "several": a number Duckling reads that the caller did not say.
_VAGUE: Final = re.compile(r"\b(?:few|several|some|many|bunch)\b")
_HALF: Final = re.compile(
    r"\b(?:(?P<n>\w+) and a half|half an?) (?P<scale>million|thousand|grand|k|hundred)\b"
)
_SCALES: Final = {"million": 1e6, "thousand": 1e3, "grand": 1e3, "k": 1e3, "hundred": 1e2}


@dataclass(frozen=True)
class ReadContext:
    """What a reader may know besides the words: the call's day, whether this field was just
    asked for (a bare "seven" answers "what time?", nothing else), and a sentence similarity
    for options (None: fuzzy and sound-alike matching only)."""

    today: dt.date
    asked: bool = False
    similarity: SimilarityFunction | None = None
    week_of: dt.date | None = None
    """The first day of a week the caller named earlier ("next week"): a bare weekday said
    later falls in or after it."""
    opens_at: int = 7
    """The hour the business opens: a clock time said with no part of the day is taken within
    opening hours ("at seven" is 7 AM at a clinic that opens at 7, 7 PM at a restaurant that
    opens at 11)."""
    part_of_day: str | None = None
    """A part of the day the caller named for the time ("sometime in the afternoon"): a clock
    said later with none of its own falls in it ("about two" is 2 PM)."""


def read_value(data_field: DataField, text: str, context: ReadContext) -> Reading | None:
    """The value of `data_field` stated in `text` (normalised words), or None."""
    kind = data_field.type
    if kind is FieldType.DATE:
        return read_date(data_field, text, context)
    if kind is FieldType.TIME:
        return read_time(data_field, text, context)
    if kind is FieldType.NUMBER:
        return read_number(data_field, text, context)
    if kind is FieldType.BOOLEAN:
        return read_boolean(data_field, text, context)
    if kind is FieldType.PHONE:
        return read_phone(text)
    if kind is FieldType.EMAIL:
        return read_email(text)
    if kind is FieldType.ENUM:
        return read_enum(data_field, text, context.similarity, asked=context.asked)
    if is_name_field(data_field):
        return read_name(text, asked=context.asked)
    return read_text(data_field, text, asked=context.asked)


# -- dates and times --------------------------------------------------------------------------


def _time_entities(text: str, today: dt.date, *, latent: bool) -> list[Entity]:
    return [e for e in entities(text, today, ["time"], latent=latent) if e.dim == "time"]


def _single_value(entity: Entity) -> tuple[dt.datetime, str] | None:
    value = entity.value
    if value.get("type") != "value" or "value" not in value:
        return None
    return dt.datetime.fromisoformat(value["value"]), str(value.get("grain", ""))


def _day_of(entity: Entity) -> dt.date | None:
    """The day an entity names, also for a part of a day ("saturday morning" is an interval)."""
    single = _single_value(entity)
    if single is not None:
        moment, grain = single
        return None if grain in ("week", "month", "quarter", "year") else moment.date()
    start = entity.value.get("from") or {}
    if entity.value.get("type") == "interval" and start.get("grain") == "hour":
        return dt.datetime.fromisoformat(start["value"]).date()
    return None


def read_date(_field: DataField, text: str, context: ReadContext) -> Reading | None:
    """A calendar day: "this friday", "the 4th", "a week from friday", "monday the 7th"."""
    weeks = _WEEKS_FROM.search(text)
    if weeks is not None:
        if weeks["day"]:
            count, rest, offset = 1, weeks["day"], weeks.start("day")
        else:
            count, rest, offset = _WEEK_COUNTS[weeks["n"]], weeks["rest"], weeks.start("rest")
        base = read_date(_field, rest, context)
        if base is not None and isinstance(base.value, str):
            later = dt.date.fromisoformat(base.value) + dt.timedelta(weeks=count)
            return Reading(later.isoformat(), weeks.start(), offset + base.end)
    found = []
    for entity in _time_entities(text, context.today, latent=False):
        day = _day_of(entity)
        # "this weekend" is two days, not one: the caller still has to choose.
        if day is not None and _DATE_CUE.search(entity.body) and "weekend" not in entity.body:
            if context.week_of is not None and _BARE_WEEKDAY.fullmatch(entity.body):
                while day < context.week_of:
                    day += dt.timedelta(weeks=1)
            party = _LEADING_COUNT.match(entity.body)
            if party and _COUNTED.search(text[: entity.start]):
                # "a table for 6 tonight": the date is "tonight"; the six is a party.
                entity = dataclasses.replace(entity, start=entity.start + party.end())
            found.append((day.isoformat(), entity))
    return _innermost(found)


_PART_NAMED: Final = re.compile(r"\b(?P<part>morning|afternoon|evening|night|tonight)s?\b")
_NOT: Final = re.compile(r"\b(?:not|no|can't|cannot|don't|won't|isn't|never|neither|nor)\b")


def part_of_day_named(text: str) -> str | None:
    """The part of the day `text` names ("sometime in the afternoon", "mornings are better"):
    morning, afternoon or evening (a night is an evening to a business); None if it names none,
    or says one that does not suit ("not the morning", "mornings are no good")."""
    match = _PART_NAMED.search(text)
    if match is None or _NOT.search(text):
        return None
    part = match["part"]
    return "evening" if part in ("night", "tonight") else part


def week_mentioned(text: str, today: dt.date) -> dt.date | None:
    """The first day of a week `text` names ("next week", "the week of the 14th"), or None."""
    for entity in _time_entities(text, today, latent=False):
        single = _single_value(entity)
        if single is not None and single[1] == "week":
            return single[0].date()
    return None


def _innermost(found: list[tuple[str, Entity]]) -> Reading | None:
    """The first value read, by the shortest words that say it: Duckling also reads "four this
    friday at seven" as one phrase, and "four" must stay free for "a table for four"."""

    def outdone(entity: Entity, value: str) -> bool:
        for other_value, other in found:
            if other is entity or other_value != value:
                continue
            inside = entity.start <= other.start and other.end <= entity.end
            if inside and other.end - other.start < entity.end - entity.start:
                return True
            # "six tomorrow" beside "tomorrow at 8 pm": a leading bare number is a count.
            overlaps = other.start < entity.end and entity.start < other.end
            if (
                overlaps
                and _LEADING_COUNT.match(entity.body)
                and not _LEADING_COUNT.match(other.body)
            ):
                return True
        return False

    kept = [(value, entity) for value, entity in found if not outdone(entity, value)]
    if not kept:
        return None
    value, entity = kept[0]
    return Reading(value, entity.start, entity.end)


def _clock(moment: dt.datetime, body: str, opens_at: int, part_of_day: str | None = None) -> str:
    hour, minute = moment.hour, moment.minute
    said_hour = re.search(r"\d{1,2}", body)
    if said_hour and int(said_hour[0]) > 12:
        return f"{hour:02d}:{minute:02d}"  # a 24-hour clock ("19:00") says its half of the day
    part = _PART_OF_DAY.search(body)
    if part is None and part_of_day is not None:
        # "Sometime in the afternoon." ... "About two.": the part of the day named before.
        twelve = hour % 12 or 12
        later = part_of_day in _LATER_PARTS and twelve != 12  # "twelve" in the afternoon: noon
        return f"{twelve + 12 if later else twelve:02d}:{minute:02d}"
    if part is not None and hour < 12 and part[0] in _LATER_PARTS:
        return f"{hour + 12:02d}:{minute:02d}"  # "seven o'clock at night": Duckling said 07:00
    if not part:
        # Said without a part of the day: the business's hours decide (Duckling picks whichever
        # comes first after midnight). "At three" is 15:00; "at seven" 07:00 at a clinic.
        twelve = hour % 12 or 12
        hour = 12 if twelve == 12 else (twelve if twelve >= opens_at else twelve + 12)
    return f"{hour:02d}:{minute:02d}"


def read_time(_field: DataField, text: str, context: ReadContext) -> Reading | None:
    """A time of day: "half past four in the afternoon", "noon", "3:45 pm"; a bare "seven" or
    "two thirty" only when the time was asked for."""
    found = _time_entities(text, context.today, latent=context.asked)
    # "a table for four this friday at seven": "four this friday" reads as a time too, but
    # a clock said with "at", a colon or a part of the day is the time the caller means.
    found.sort(key=lambda e: (e.latent, not _CLOCK_CUE.search(e.body), e.start))
    clocks = []
    for entity in found:
        single = _single_value(entity)
        if single is None:
            continue
        moment, grain = single
        if grain not in ("hour", "minute", "second"):
            continue
        if entity.latent and re.fullmatch(r"\d{3,}", entity.body.strip()):
            continue  # "1530" or a house number, not something a caller says as a time
        if _COUNTED.search(text[: entity.start]):
            continue  # "a table for 6 tonight": six people, not six o'clock
        # "seven o'clock at night": the part of the day may trail the entity Duckling found.
        said = text[entity.start : entity.end + len(" in the afternoon")]
        clocks.append((_clock(moment, said, context.opens_at, context.part_of_day), entity))
    reading = _innermost(clocks)
    if context.asked:
        # Asked the time, a caller says "eight forty-five" and the recogniser writes "845",
        # "8-45" or "8, 45": Duckling reads no clock there, or only the "8" of it.
        digits = _digit_clock(text, context.opens_at, context.part_of_day)
        if digits is not None and (reading is None or digits.start <= reading.start < digits.end):
            return digits
        if reading is None:
            return _sound_alike_hour(_field, text, context)
    return reading


# Asked the time, a caller says "four in the afternoon" and the recogniser writes "for in the
# afternoon" (measured with Whisper on Piper's voice over the phone path: "four" came back "for"
# in 4 of 6 syntheses, "two" "to" in 4 of 6, "ten" "then" in 9 of 20). Such a word is the hour
# only where it starts the answer, right before a part of the day, "o'clock" or AM/PM; anywhere
# else it is the word ("a table for tonight", "monday then in the morning").
_SOUND_ALIKE_HOURS: Final = {
    "then": "ten", "for": "four", "fore": "four", "to": "two", "too": "two", "won": "one",
    "ate": "eight",
}  # fmt: skip
_SOUND_ALIKE_HOUR: Final = re.compile(
    r"^(?:(?:maybe|around|about|say|like|at) )*"
    rf"(?P<word>{'|'.join(_SOUND_ALIKE_HOURS)}) "
    r"(?=in the (?:morning|afternoon|evening)\b|at night\b|o'?clock\b|[ap]\.? ?m\b)"
)


def _sound_alike_hour(data_field: DataField, text: str, context: ReadContext) -> Reading | None:
    match = _SOUND_ALIKE_HOUR.match(text)
    if match is None:
        return None
    start, end = match.span("word")
    hour = _SOUND_ALIKE_HOURS[match["word"]]
    # Not as an answer: the words now say their clock outright, and nothing is repaired twice.
    repaired = f"{text[:start]}{hour}{text[end:]}"
    reading = read_time(data_field, repaired, dataclasses.replace(context, asked=False))
    if reading is None:
        return None
    # Back to the words as heard: the hour's length differs from the word's.
    shift = len(hour) - (end - start)
    return Reading(reading.value, min(reading.start, start), max(end, reading.end - shift))


# An hour and its minutes written as one group of digits ("845", "1030"), or with a dash or a
# comma between them ("8-45", "8, 45"); never part of a longer number, a date or a clock already
# written with a colon.
_DIGIT_CLOCK = re.compile(r"(?<![\d:./-])([01]?\d|2[0-3])(?:-|, ?)?([0-5]\d)(?![\d:/])")


def _digit_clock(text: str, opens_at: int, part_of_day: str | None) -> Reading | None:
    for match in _DIGIT_CLOCK.finditer(text):
        hour, minute = int(match[1]), int(match[2])
        moment = dt.datetime.combine(dt.date(2000, 1, 1), dt.time(hour, minute))
        # As `_clock` reads a said clock: the hour as written, then any part of the day.
        said = f"{match[1]}:{match[2]}" + text[match.end() : match.end() + len(" in the evening")]
        return Reading(_clock(moment, said, opens_at, part_of_day), match.start(), match.end())
    return None


# -- numbers ----------------------------------------------------------------------------------


def _people_count(text: str) -> Reading | None:
    """How many people a phrase counts: "just me" 1, "me and my wife" 2, "three adults and two
    children" 5, "the four of us" 4; None when it names no people."""
    if not _PEOPLE_WORDS.search(text):
        return None
    alone = _ALONE.search(text)
    if alone:
        return Reading(1.0, alone.start(), alone.end())
    numbers = [(v, e) for v, e in _number_entities(text) if not _VAGUE.search(e.body)]
    if _VAGUE.search(text) and not numbers:
        return None
    group = re.search(r"\b(?:of us|party of|table for|group of|for)\b", text)
    if group and numbers:
        value, entity = next(((v, e) for v, e in numbers if e.start >= group.start()), numbers[0])
        if re.search(r"\bof us\b|party of|table for|group of|for \w+ (?:people|persons)", text):
            return Reading(value, entity.start, entity.end)
    total, first, last = 0.0, len(text), 0
    if re.search(r"\b(?:me|myself)\b", text):  # "me and my wife"; not "can I get a table"
        total += 1
    for value, entity in numbers:
        if re.match(rf"\s*(?:\w+ )?{_PEOPLE_NOUNS}", text[entity.end :]):
            total += value
            first, last = min(first, entity.start), max(last, entity.end)
    for match in re.finditer(rf"\b(?:my|our|a|his|her) {_RELATIONS}\b", text):
        total += 1
        first, last = min(first, match.start()), max(last, match.end())
    if total >= 2 or (total >= 1 and last > 0):
        return Reading(total, min(first, last), max(first, last))
    return None


def _number_entities(text: str) -> list[tuple[float, Entity]]:
    found: list[tuple[float, Entity]] = []
    for entity in entities(text, dt.date(2000, 1, 1), ["amount-of-money", "number"]):
        value = entity.value
        raw = value.get("value")
        if value.get("type") == "interval":
            raw = (value.get("to") or value.get("from") or {}).get("value")
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            found.append((float(raw), entity))
    return found


def read_number(data_field: DataField, text: str, _context: ReadContext) -> Reading | None:
    """A number or amount: "fifty k", "around two hundred thousand a year", "a party of six";
    for a count of people also "just me" and "me and my wife"."""
    about_money = re.search(
        r"budget|price|cost|amount|spend|revenue|salary|income", data_field.name
    )
    counted = None if about_money else _people_count(text)
    if counted is not None:
        return counted
    half = _HALF.search(text)
    if half:
        whole = (
            _number_entities(half["n"])[0][0] if half["n"] and _number_entities(half["n"]) else 0.0
        )
        return Reading((whole + 0.5) * _SCALES[half["scale"]], half.start(), half.end())
    found = [(v, e) for v, e in _number_entities(text) if not _VAGUE.search(e.body)]
    if not found:
        return None
    money = [(v, e) for v, e in found if e.dim == "amount-of-money"]
    value, entity = max(money, key=lambda p: p[0]) if money else found[0]
    return Reading(value, entity.start, entity.end)


def read_boolean(_field: DataField, text: str, context: ReadContext) -> Reading | None:
    """Yes or no, by the first yes-like or no-like word; only as an answer to the question."""
    if not context.asked:
        return None
    for match in re.finditer(r"[a-z']+", text):
        if match[0] in YES_WORDS:
            return Reading(True, match.start(), match.end())
        if match[0] in NO_WORDS or match[0] in ("not", "don't", "haven't", "isn't"):
            return Reading(False, match.start(), match.end())
    return None
