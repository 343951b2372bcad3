"""The phrase table: how callers say values and what they mean, read by the field readers and
the intent rules. Written from phone speech before the readers were; at least 97 % must be right.

Each entry is checked on its own so a failure names the phrase; the bar is on the whole table.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.fields import DataField, FieldScalar, FieldType
from core.fields.reading import ReadContext, read_value
from core.fields.speech import normalise
from realtime.brains.guided import default_similarity
from realtime.brains.intents import classify

TABLE = Path(__file__).with_name("phrases.yaml")
ENTRIES: list[dict[str, Any]] = yaml.safe_load(TABLE.read_text())
TODAY = dt.date(2026, 12, 1)
REQUIRED_SHARE = 0.97

_FIELDS = {
    "name": DataField(name="customer_name", description="the caller's full name"),
    "text": DataField(name="service", description="the service they need"),
    "number": DataField(name="quantity", type=FieldType.NUMBER),
}


def _field(entry: dict[str, Any]) -> DataField:
    kind = entry["type"]
    if kind in _FIELDS:
        return _FIELDS[kind]
    return DataField(name="value", type=FieldType(kind), options=entry.get("options") or [])


def _same(expected: object, got: FieldScalar | None) -> bool:
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return isinstance(got, float) and got == float(expected)
    if isinstance(expected, str) and isinstance(got, str):
        return expected.casefold() == got.casefold()
    return expected == got if expected is not None else got is None


def outcome(entry: dict[str, Any]) -> tuple[bool, str]:
    """Whether the entry is read right, and what was read."""
    text = normalise(entry["text"])
    if "intent" in entry:
        intent = classify(text, default_similarity())
        return intent.value == entry["intent"], intent.value
    today = dt.date.fromisoformat(str(entry.get("today", TODAY)))
    reading = read_value(_field(entry), text, ReadContext(today=today, asked=True))
    got = reading.value if reading else None
    return _same(entry["expect"], got), repr(got)


def test_the_table_is_large_and_covers_every_kind() -> None:
    assert len(ENTRIES) >= 150
    kinds = {e.get("type") or "intent" for e in ENTRIES}
    assert kinds >= {"date", "time", "number", "phone", "email", "name", "enum", "text", "intent"}


def test_at_least_97_percent_of_the_phrase_table_is_read_right() -> None:
    wrong = []
    for entry in ENTRIES:
        right, got = outcome(entry)
        if not right:
            expected = entry.get("expect", entry.get("intent"))
            wrong.append(f"{entry['text']!r}: expected {expected!r}, got {got}")
    share = 1 - len(wrong) / len(ENTRIES)
    assert share >= REQUIRED_SHARE, f"{share:.1%} right; wrong:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "entry",
    [e for e in ENTRIES if e.get("expect", "x") is None],
    ids=lambda e: e["text"],
)
def test_words_that_state_no_value_are_never_read_as_one(entry: dict[str, Any]) -> None:
    right, got = outcome(entry)
    assert right, f"{entry['text']!r} read as {got}"
