"""Checking a captured value against its field's type, and putting it in canonical form.

Pure and deterministic (no I/O, clock or randomness): the Temporal workflow and the realtime
process both run it, and must agree on every value. Natural-language parsing ("next Tuesday",
"half past three") happens before a value gets here, in the realtime process; this module only
accepts the forms listed per type below and says plainly why it refused anything else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time

from core.fields.declaration import DataField, FieldType

FieldScalar = str | float | bool
"""A captured value in canonical form (what `GoalManager.captured` holds)."""

TEXT_MAX_CHARS = 500
PHONE_DIGITS_RANGE = (7, 15)  # E.164 allows at most 15; shorter than 7 is no phone number
EMAIL_MAX_CHARS = 254  # RFC 5321's limit on a forward path

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")
_EMAIL = re.compile(
    r"^(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$"
)
_TRUE_WORDS = frozenset({"true", "yes", "y", "1"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0"})


@dataclass(frozen=True)
class FieldValue:
    """The outcome of checking one captured value: its canonical form, or why it was refused."""

    accepted: bool
    value: FieldScalar | None
    """The canonical value when accepted; None when refused."""
    reason: str
    """Why the value was refused, in words fit for a log or an LLM tool result; "" if accepted."""


def _accept(value: FieldScalar) -> FieldValue:
    return FieldValue(accepted=True, value=value, reason="")


def _reject(reason: str) -> FieldValue:
    return FieldValue(accepted=False, value=None, reason=reason)


def _is_number(raw: object) -> bool:
    # bool is an int subclass, but `True` is an answer to a yes/no question, not a quantity.
    return isinstance(raw, int | float) and not isinstance(raw, bool)


def _text(_field: DataField, raw: object) -> FieldValue:
    if _is_number(raw):
        raw = str(raw)
    if not isinstance(raw, str):
        return _reject("expected text")
    text = raw.strip()
    if not text:
        return _reject("expected non-empty text")
    if len(text) > TEXT_MAX_CHARS:
        return _reject(f"text is longer than {TEXT_MAX_CHARS} characters")
    return _accept(text)


def _date(_field: DataField, raw: object) -> FieldValue:
    # datetime is a date subclass; a datetime names a day too, so keep only its date part.
    if isinstance(raw, datetime):
        return _accept(raw.date().isoformat())
    if isinstance(raw, date):
        return _accept(raw.isoformat())
    reason = "expected a date as YYYY-MM-DD"
    # The regex first: `date.fromisoformat` also takes forms such as `20240105` or `2024-W01-1`.
    if not isinstance(raw, str) or not _DATE.match(raw.strip()):
        return _reject(reason)
    try:
        return _accept(date.fromisoformat(raw.strip()).isoformat())
    except ValueError:
        return _reject(f"{raw.strip()} is not a calendar date ({reason})")


def _time(_field: DataField, raw: object) -> FieldValue:
    if isinstance(raw, time):
        return _accept(f"{raw.hour:02d}:{raw.minute:02d}")
    reason = "expected a 24-hour time as HH:MM"
    match = _TIME.match(raw.strip()) if isinstance(raw, str) else None
    if match is None:
        return _reject(reason)
    hour, minute = int(match[1]), int(match[2])
    second = int(match[3]) if match[3] is not None else 0
    if hour > 23 or minute > 59 or second > 59:
        return _reject(f"{match[0]} is not a time of day ({reason})")
    return _accept(f"{hour:02d}:{minute:02d}")


def _number(_field: DataField, raw: object) -> FieldValue:
    if isinstance(raw, bool):
        return _reject("expected a number, not yes/no")
    if isinstance(raw, int | float):
        try:
            number = float(raw)
        except OverflowError:  # an int beyond float range (10**400)
            return _reject("expected a finite number")
    elif isinstance(raw, str):
        text = raw.strip().replace(",", "").replace("$", "").strip()
        multiplier = 1.0
        if text[-1:] in ("k", "K"):
            text, multiplier = text[:-1].strip(), 1000.0
        if not _NUMBER.match(text):
            return _reject("expected a number")
        try:
            number = float(text) * multiplier
        except OverflowError:
            return _reject("expected a finite number")
    else:
        return _reject("expected a number")
    if not math.isfinite(number):
        return _reject("expected a finite number")
    return _accept(number)


def _boolean(_field: DataField, raw: object) -> FieldValue:
    if isinstance(raw, bool):
        return _accept(raw)
    if isinstance(raw, int) and raw in (0, 1):
        return _accept(raw == 1)
    word = raw.strip().lower() if isinstance(raw, str) else None
    if word in _TRUE_WORDS:
        return _accept(True)
    if word in _FALSE_WORDS:
        return _accept(False)
    return _reject("expected yes or no")


def _enum(field: DataField, raw: object) -> FieldValue:
    reason = f"expected one of: {', '.join(field.options)}"
    if not isinstance(raw, str):
        return _reject(reason)
    wanted = raw.strip().casefold()
    for option in field.options:
        if option.strip().casefold() == wanted:
            return _accept(option)
    return _reject(reason)


def _phone(_field: DataField, raw: object) -> FieldValue:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        return _reject("expected a phone number")
    text = raw.strip()
    plus = text.startswith("+")
    digits = _PHONE_PUNCTUATION.sub("", text[1:] if plus else text)
    low, high = PHONE_DIGITS_RANGE
    if not digits.isascii() or not digits.isdigit():
        return _reject("expected a phone number: digits, optionally after a leading +")
    if not low <= len(digits) <= high:
        return _reject(f"expected a phone number of {low} to {high} digits")
    return _accept(f"+{digits}" if plus else digits)


def _email(_field: DataField, raw: object) -> FieldValue:
    reason = "expected an email address such as name@example.com"
    if not isinstance(raw, str):
        return _reject(reason)
    text = raw.strip()
    match = _EMAIL.match(text) if len(text) <= EMAIL_MAX_CHARS else None
    if match is None:
        return _reject(reason)
    # Domains are case-insensitive; the local part, strictly, is the receiving server's business.
    return _accept(f"{match['local']}@{match['domain'].lower()}")


_NORMALISERS: dict[FieldType, Callable[[DataField, object], FieldValue]] = {
    FieldType.TEXT: _text,
    FieldType.DATE: _date,
    FieldType.TIME: _time,
    FieldType.NUMBER: _number,
    FieldType.BOOLEAN: _boolean,
    FieldType.ENUM: _enum,
    FieldType.PHONE: _phone,
    FieldType.EMAIL: _email,
}


def normalise_value(field: DataField, raw: object) -> FieldValue:
    """Check `raw` against `field`'s type; the canonical value, or the reason it was refused.

    Canonical forms: text stripped (1–500 chars); date `YYYY-MM-DD`; time `HH:MM` (24-hour);
    number a float (`"$12,000"`, `"12k"` → 12000.0); boolean a bool (yes/no, y/n, true/false,
    1/0); enum the option as declared (matched case-insensitively); phone its 7–15 digits,
    with a leading `+` if it had one; email with its domain lower-cased.
    """
    if raw is None:
        return _reject("no value given")
    return _NORMALISERS[field.type](field, raw)
