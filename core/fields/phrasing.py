"""How an agent asks for a field, asks again, names it and says a value back, on the phone.

Questions sound like a receptionist asking: the author's own `ask` when the field has one, else
one made from the field's type and description, turned from the admin's third person to the
caller's second ("the service they need" → "the service you need"). A second try adds an
example of an answer; names are asked to be spelled. Values are said as people say them
("Friday, December 4th", "3:30 PM", a phone number in groups).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Final

from core.fields.declaration import DataField, FieldType, is_name_field
from core.fields.inference import known_question
from core.fields.values import FieldScalar

_PERSON: Final = (
    (r"\b(?:the )?(?:caller|customer|client|prospect|patient|guest|lead)'s\b", "your"),
    (r"\b(?:the )?(?:caller|customer|client|prospect|patient|guest|lead)\b", "you"),
    (r"\btheir\b", "your"),
    (r"\bthey're\b", "you're"),
    (r"\bthey\b", "you"),
    (r"\bthem\b", "you"),
    (r"\byou is\b", "you are"),
    (r"\byou has\b", "you have"),
)
_LABEL_PREFIXES: Final = (
    "preferred_",
    "customer_",
    "caller_",
    "contact_",
    "desired_",
    "requested_",
)


def to_caller(description: str) -> str:
    """A description written about the caller, said to them ("their budget" → "your budget")."""
    said = description.strip().rstrip(".?")
    for pattern, replacement in _PERSON:
        said = re.sub(pattern, replacement, said, flags=re.IGNORECASE)
    return said


def label(data_field: DataField) -> str:
    """A short name for the field in a read-back: `preferred_date` → "date"."""
    name = data_field.name
    for prefix in _LABEL_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix) :]
            break
    if name in ("phone", "phone_number", "number"):
        return "phone number"
    return name.replace("_", " ")


def _options(options: Sequence[str]) -> str:
    if len(options) == 1:
        return options[0]
    return f"{', '.join(options[:-1])} or {options[-1]}"


def question(data_field: DataField) -> str:
    """The question that asks for `data_field`."""
    if data_field.ask and data_field.ask.strip():
        return data_field.ask.strip()
    known = known_question(data_field)
    if known is not None:
        return known
    kind = data_field.type
    about = to_caller(data_field.description or data_field.name.replace("_", " "))
    if kind is FieldType.DATE:
        return "What day would work best for you?"
    if kind is FieldType.TIME:
        return "What time would suit you?"
    if kind is FieldType.PHONE:
        return "What's the best phone number to reach you on?"
    if kind is FieldType.EMAIL:
        return "What's the best email address for you?"
    if kind is FieldType.ENUM:
        return f"Which would you like: {_options(data_field.options)}?"
    if kind is FieldType.BOOLEAN:
        return f"Could you tell me {about}? Yes or no is fine."
    if is_name_field(data_field):
        return "May I have your name, please?"
    return f"Could you tell me {_with_article(about)}?"


def _with_article(about: str) -> str:
    if re.match(r"^(?:the|your|a|an|how|what|when|where|who|which|whether|if)\b", about, re.I):
        return about
    return f"your {about}"


def rephrase(data_field: DataField) -> str:
    """A second way to ask, with an example of an answer."""
    kind = data_field.type
    if kind is FieldType.DATE:
        return "Which day would you like? For example, this Friday, or December 10th."
    if kind is FieldType.TIME:
        return (
            "What time would you like? For example, ten in the morning, or 3:30 in the afternoon."
        )
    if kind is FieldType.PHONE:
        return "Could you say the number digit by digit, or type it on your keypad?"
    if kind is FieldType.EMAIL:
        return "Could you say your email slowly, like jane dot doe at example dot com?"
    if kind is FieldType.NUMBER:
        return f"{question(data_field)} A rough number is fine, for example 5 or 50 thousand."
    if kind is FieldType.ENUM:
        return f"Just say one of: {_options(data_field.options)}."
    if kind is FieldType.BOOLEAN:
        return f"{question(data_field)} Please just say yes or no."
    if is_name_field(data_field):
        return "Could you spell your name for me, letter by letter?"
    return f"Just a few words is fine. {question(data_field)}"


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def speak_value(data_field: DataField, value: FieldScalar) -> str:
    """A captured value as the agent says it ("Tuesday, December 1st", "3:30 PM")."""
    if data_field.type is FieldType.DATE and isinstance(value, str):
        day = dt.date.fromisoformat(value)
        return f"{day:%A, %B} {_ordinal(day.day)}"
    if data_field.type is FieldType.TIME and isinstance(value, str):
        hour, minute = (int(p) for p in value.split(":"))
        if (hour, minute) == (12, 0):
            return "noon"
        clock = f"{hour % 12 or 12}" + (f":{minute:02d}" if minute else "")
        return f"{clock} {'AM' if hour < 12 else 'PM'}"
    if data_field.type is FieldType.PHONE and isinstance(value, str):
        digits = value.lstrip("+")
        groups = [digits[:3], digits[3:6], digits[6:]] if len(digits) == 10 else [digits]
        return ", ".join(" ".join(g) for g in groups if g)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,}"
    return value


def read_back(fields: Sequence[DataField], captured: Mapping[str, FieldScalar]) -> str:
    """One sentence reading the captured values back, a date and a time said together."""
    said: dict[str, str] = {f.name: speak_value(f, captured[f.name]) for f in fields}
    dates = [f.name for f in fields if f.type is FieldType.DATE]
    times = [f.name for f in fields if f.type is FieldType.TIME]
    parts: list[str] = []
    for data_field in fields:
        name = data_field.name
        if name in times and dates:
            continue
        if name in dates and times:
            parts.append(f"{said[name]} at {said[times[0]]}")
        elif data_field.type in (FieldType.DATE, FieldType.TIME):
            parts.append(said[name])
        else:
            parts.append(f"{label(data_field)} {said[name]}")
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])}, and {parts[-1]}"
    return f"Let me read that back: {listed}. Is that all correct?"


def acknowledge(fields: Sequence[DataField], captured: Mapping[str, FieldScalar]) -> str:
    """A short "got it" naming what was just understood."""
    return f"Got it, {recap(fields, captured)}."


def recap(fields: Sequence[DataField], captured: Mapping[str, FieldScalar]) -> str:
    """The values of `fields` spoken as one phrase: "cleaning, Tuesday, December 8 at 3 PM"."""
    said = {f.name: speak_value(f, captured[f.name]) for f in fields}
    for data_field in fields:  # "2" alone says nothing; "party size 2" does
        if data_field.type in (FieldType.NUMBER, FieldType.BOOLEAN):
            said[data_field.name] = f"{label(data_field)} {said[data_field.name]}"
    dates = [f.name for f in fields if f.type is FieldType.DATE]
    times = [f.name for f in fields if f.type is FieldType.TIME]
    if dates and times:
        said[dates[0]] = f"{said[dates[0]]} at {said.pop(times[0])}"
    return ", ".join(said.values())
