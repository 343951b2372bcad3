"""Truth matching per field type, and facts that cannot be a field's truth."""

from __future__ import annotations

import datetime as dt

import pytest

from core.fields import DataField, FieldScalar
from workers.eval.truth import TruthError, matches, parse_truth

TEXT = DataField(name="service")
DATE = DataField(name="date", type="date")
TIME = DataField(name="time", type="time")
NUMBER = DataField(name="party_size", type="number")
ENUM = DataField(name="seating", type="enum", options=["indoors", "patio", "bar"])
PHONE = DataField(name="phone", type="phone")
EMAIL = DataField(name="email", type="email")
BOOLEAN = DataField(name="is_new", type="boolean")


def check(field: DataField, fact: object, recorded: FieldScalar | None) -> bool:
    return matches(field, parse_truth(field, fact), recorded)


@pytest.mark.parametrize(
    ("field", "fact", "recorded", "expected"),
    [
        # text: every content word, case and a/an/the/my/our ignored
        (TEXT, "a cleaning", "Teeth cleaning", True),
        (TEXT, "the teeth cleaning", "cleaning", False),
        (TEXT, ["cleaning", "checkup"], "a check-up and checkup", True),
        (TEXT, ["cleaning", "filling"], "crown", False),
        (TEXT, "Dr Patel", "dr. patel", True),
        # dates and times
        (DATE, "2026-12-04", "2026-12-04", True),
        (DATE, dt.date(2026, 12, 4), "2026-12-04", True),
        (DATE, "2026-12-04", "2026-12-05", False),
        (TIME, "15:00", "15:00", True),
        (TIME, "9:05", "09:05", True),
        (TIME, "15:00", "03:00", False),
        # numbers, with alternatives
        (NUMBER, 4, 4.0, True),
        (NUMBER, "4", 4.0, True),
        (NUMBER, [40000, 50000], 50000.0, True),
        (NUMBER, 5, 4.0, False),
        # enum
        (ENUM, "Patio", "patio", True),
        (ENUM, "patio", "bar", False),
        # phone: digits only, leading US 1 optional
        (PHONE, "555-212-8890", "5552128890", True),
        (PHONE, "(555) 212 8890", "+15552128890", True),
        (PHONE, "+1 555 212 8890", "5552128890", True),
        (PHONE, "555-212-8890", "5552128891", False),
        # email and boolean
        (EMAIL, "Ana@Example.com", "ana@example.com", True),
        (EMAIL, "ana@example.com", "anna@example.com", False),
        (BOOLEAN, True, True, True),
        (BOOLEAN, True, False, False),
    ],
)
def test_a_recorded_value_matches_the_truth_by_its_type(
    field: DataField, fact: object, recorded: FieldScalar, expected: bool
) -> None:
    assert check(field, fact, recorded) is expected


def test_nothing_recorded_never_matches() -> None:
    assert not check(TEXT, "cleaning", None)


@pytest.mark.parametrize(
    ("field", "fact", "message"),
    [
        (TIME, 900, 'quoted "HH:MM"'),  # what YAML makes of an unquoted 15:00
        (TIME, "25:00", "HH:MM"),
        (DATE, "next friday", "YYYY-MM-DD"),
        (NUMBER, "four", "a number"),
        (ENUM, "terrace", "indoors, patio, bar"),
        (PHONE, "555", "7 digits"),
        (EMAIL, "ana", "email"),
        (BOOLEAN, "yes please", "true or false"),
        (DATE, ["2026-12-04"], "text and number fields only"),
        (TEXT, "the", "no words"),
    ],
)
def test_a_fact_that_cannot_be_the_truth_says_what_is_expected(
    field: DataField, fact: object, message: str
) -> None:
    with pytest.raises(TruthError, match=message):
        parse_truth(field, fact)
