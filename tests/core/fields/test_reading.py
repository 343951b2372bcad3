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


# What the recogniser writes for a short time answer (measured: Piper's "four in the afternoon"
# came back "for in the afternoon" in 4 of 6 syntheses, "two in the afternoon" "to in the
# afternoon" in 4 of 6, "ten in the morning" "Then in the morning" in 9 of 20).
@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        ("Then in the morning.", "10:00"),
        ("for in the afternoon.", "16:00"),
        ("To in the afternoon.", "14:00"),
        ("um, won o'clock", "13:00"),
        ("maybe ate in the evening", "20:00"),
        ("around too pm", "14:00"),
    ],
)
def test_a_number_heard_as_its_sound_alike_before_a_part_of_the_day_is_the_hour(
    heard: str, expected: str
) -> None:
    assert read(TIME, heard, asked=True) == expected


def test_a_sound_alike_is_an_hour_only_when_the_time_was_asked() -> None:
    assert read(TIME, "for in the afternoon") is None


@pytest.mark.parametrize(
    "said",
    [
        "a table for tonight",
        "monday then in the morning",
        "I'd like to come in for this afternoon",
        "just for in the",
        "then, in the morning",
    ],
)
def test_words_that_only_sound_like_an_hour_stay_words(said: str) -> None:
    assert read(TIME, said, asked=True) is None


@pytest.mark.parametrize(
    ("said", "part", "opens_at", "expected"),
    [
        ("about two", "afternoon", 7, "14:00"),
        ("six", "morning", 7, "06:00"),  # without the morning: 18:00 at a clinic
        ("half past eleven", "morning", 11, "11:30"),
        ("seven thirty", "evening", 7, "19:30"),
        ("twelve", "afternoon", 7, "12:00"),
        ("three in the afternoon", "morning", 7, "15:00"),  # what is said now wins
    ],
)
def test_a_clock_said_after_a_part_of_the_day_falls_in_it(
    said: str, part: str, opens_at: int, expected: str
) -> None:
    assert read(TIME, said, asked=True, opens_at=opens_at, part_of_day=part) == expected


SERVICE = DataField(name="service", description="the service they need")


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        # Whisper wrote Piper's "a cleaning" as "at cleaning" in 7 of 8 syntheses.
        ("At cleaning.", "cleaning"),
        ("at filling, please", "filling"),
        ("at the moment just a checkup", "at the moment just a checkup"),
        ("at home visit", "at home visit"),
        ("hi, I'd like at cleaning on friday", "cleaning"),
    ],
)
def test_a_service_heard_with_at_for_its_article_is_the_service(heard: str, expected: str) -> None:
    assert read(SERVICE, heard, asked=True) == expected
