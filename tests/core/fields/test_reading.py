"""Readers on what the phrase table does not pin down: the business's hours, 24-hour clocks,
several facts in one sentence, and the words that must never become a value."""

from __future__ import annotations

import datetime as dt

import pytest

from core.fields import DataField, FieldType
from core.fields.contact import read_digits
from core.fields.reading import ReadContext, read_value
from core.fields.speech import normalise

TODAY = dt.date(2026, 12, 1)  # a Tuesday
TIME = DataField(name="time", type=FieldType.TIME)
PARTY = DataField(name="party_size", type=FieldType.NUMBER, description="how many people")


def read(data_field: DataField, said: str, **context: object) -> object:
    reading = read_value(data_field, normalise(said), ReadContext(TODAY, **context))  # type: ignore[arg-type]
    return None if reading is None else reading.value


@pytest.mark.parametrize(
    ("said", "opens_at", "expected"),
    [
        ("at seven", 7, "07:00"),
        ("at seven", 11, "19:00"),
        ("at eleven", 11, "11:00"),
        ("19:00", 7, "19:00"),
        ("at 19:30", 11, "19:30"),
        ("seven in the morning", 11, "07:00"),
        ("noon", 11, "12:00"),
    ],
)
def test_a_bare_clock_time_is_read_within_opening_hours(
    said: str, opens_at: int, expected: str
) -> None:
    assert read(TIME, said, asked=True, opens_at=opens_at) == expected


def test_a_date_and_a_time_and_a_party_in_one_sentence_each_keep_their_words() -> None:
    said = "a table for four this friday at seven"
    assert read(TIME, said, opens_at=11) == "19:00"
    assert read(PARTY, said) == 4.0


@pytest.mark.parametrize(
    ("said", "count"),
    [("just me", 1.0), ("me and my wife", 2.0), ("three adults and two kids", 5.0),
     ("a party of six", 6.0), ("for 2 people", 2.0)],
)  # fmt: skip
def test_people_are_counted_as_a_host_would(said: str, count: float) -> None:
    assert read(PARTY, said) == count


def test_digits_are_read_in_any_count() -> None:
    assert read_digits("it ends in six one") == "61"
    assert read_digits("double five, oh two") == "5502"
