"""A scenario's truth: what each fact must be, checked against what the agent recorded.

Per field type: text — every content word of the truth appears in the recorded value (case
ignored, and the words a/an/the/my/our); date `YYYY-MM-DD`; time `HH:MM`; number equal; enum the
option; phone the same digits (punctuation and `+` ignored, a leading US 1 optional); email case
ignored; boolean equal. Text and number truths may be a list of alternatives: any one matches.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import TypeAlias

from core.fields import DataField, FieldScalar, FieldType

Truth: TypeAlias = str | float | bool | list[str] | list[float]
"""A fact as a scenario states it, after `parse_truth`."""

FILLER_WORDS = frozenset({"a", "an", "the", "my", "our"})
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_LISTABLE = (FieldType.TEXT, FieldType.NUMBER)


class TruthError(ValueError):
    """A fact that cannot be the truth for its field (the message says what is expected)."""


def parse_truth(data_field: DataField, raw: object) -> Truth:
    """A fact in the form `matches` compares; TruthError if it does not fit the field."""
    if isinstance(raw, list):
        if data_field.type not in _LISTABLE:
            raise TruthError("a list of alternatives is for text and number fields only")
        if not raw:
            raise TruthError("an empty list of alternatives")
        if any(isinstance(item, list) for item in raw):
            # One level only: alternatives are values, and the recursion stays shallow.
            raise TruthError("each alternative is one value, not a list")
        items = [parse_truth(data_field, item) for item in raw]
        if data_field.type is FieldType.NUMBER:
            return [float(item) for item in items if isinstance(item, float)]
        return [str(item) for item in items]
    return _parse_one(data_field, raw)


def _parse_one(data_field: DataField, raw: object) -> str | float | bool:
    kind = data_field.type
    if kind is FieldType.DATE:
        if isinstance(raw, dt.date):  # YAML reads an unquoted 2026-12-04 as a date
            return raw.isoformat()
        try:
            return dt.date.fromisoformat(str(raw)).isoformat()
        except ValueError:
            raise TruthError(f"expected a date as YYYY-MM-DD, got {raw!r}") from None
    if kind is FieldType.TIME:
        match = _TIME.match(raw) if isinstance(raw, str) else None
        if match is None or int(match[1]) > 23 or int(match[2]) > 59:
            # An unquoted 15:00 is the number 900 to YAML: hence the hint.
            raise TruthError(f'expected a time as a quoted "HH:MM", got {raw!r}')
        return f"{int(match[1]):02d}:{match[2]}"
    if kind is FieldType.NUMBER:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise TruthError(f"expected a number, got {raw!r}")
        try:
            number = float(raw)
        except ValueError:
            raise TruthError(f"expected a number, got {raw!r}") from None
        if not math.isfinite(number):
            raise TruthError(f"expected a finite number, got {raw!r}")
        return number
    if kind is FieldType.BOOLEAN:
        if not isinstance(raw, bool):
            raise TruthError(f"expected true or false, got {raw!r}")
        return raw
    if kind is FieldType.ENUM:
        option = next((o for o in data_field.options if o.casefold() == str(raw).casefold()), None)
        if option is None:
            raise TruthError(f"expected one of {', '.join(data_field.options)}, got {raw!r}")
        return option
    if kind is FieldType.PHONE:
        if len(_digits(str(raw))) < 7:
            raise TruthError(f"expected a phone number of at least 7 digits, got {raw!r}")
        return str(raw)
    if kind is FieldType.EMAIL:
        if not isinstance(raw, str) or "@" not in raw:
            raise TruthError(f"expected an email address, got {raw!r}")
        return raw
    if isinstance(raw, bool) or not isinstance(raw, str | int | float) or not str(raw).strip():
        raise TruthError(f"expected some text, got {raw!r}")
    if not content_words(str(raw)):
        raise TruthError(f"{raw!r} has no words to look for")
    return str(raw)


# Words that join a truth's parts ("cleaning and chipped tooth") but need not be said as such.
_JOINERS = frozenset({"and", "plus", "also", "&"})


def matches(data_field: DataField, truth: Truth, recorded: FieldScalar | None) -> bool:
    """Whether the value the agent recorded for `data_field` is the truth."""
    if recorded is None:
        return False
    if isinstance(truth, list):
        alternatives: Sequence[str | float] = truth
        return any(matches(data_field, item, recorded) for item in alternatives)
    kind = data_field.type
    if kind is FieldType.TEXT:
        heard = set(content_words(str(recorded)))
        return all(word in heard for word in content_words(str(truth)))
    if kind is FieldType.NUMBER:
        number = _number(recorded)
        return number is not None and isinstance(truth, float) and math.isclose(number, truth)
    if kind is FieldType.BOOLEAN:
        return recorded is truth
    if kind is FieldType.TIME:
        return _clock(str(recorded)) == _clock(str(truth))
    if kind is FieldType.PHONE:
        return _national(str(recorded)) == _national(str(truth))
    return str(recorded).strip().casefold() == str(truth).strip().casefold()


def content_words(text: str) -> list[str]:
    """The words of `text` that must be heard, lower-cased, without a/an/the/my/our or "and",
    and without a possessive "'s" ("battery's" is the battery)."""
    words = (re.sub(r"'s$", "", w) for w in _WORD.findall(text.lower()))
    return [w for w in words if w and w not in FILLER_WORDS and w not in _JOINERS]


def _number(value: FieldScalar) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(str(value).replace(",", "").replace("$", ""))
    except ValueError:
        return None


def _clock(value: str) -> tuple[int, int] | None:
    match = re.match(r"^\s*(\d{1,2}):(\d{2})", value)
    return (int(match[1]), int(match[2])) if match else None


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _national(value: str) -> str:
    digits = _digits(value)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
