"""Checking captured values against their field's type: what is accepted, and in which form."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from core.fields import DataField, FieldType
from core.fields.values import FieldValue, normalise_value


def field(field_type: FieldType, options: list[str] | None = None) -> DataField:
    return DataField(name="value", type=field_type, options=options or [])


def accepted(field_type: FieldType, raw: object, options: list[str] | None = None) -> object:
    result = normalise_value(field(field_type, options), raw)
    assert result.accepted, result.reason
    assert result.reason == ""
    return result.value


def refused(field_type: FieldType, raw: object, options: list[str] | None = None) -> str:
    result = normalise_value(field(field_type, options), raw)
    assert not result.accepted
    assert result.value is None
    assert result.reason
    return result.reason


@pytest.mark.parametrize(
    ("raw", "value"),
    [("  Jane Doe ", "Jane Doe"), ("x", "x"), ("a" * 500, "a" * 500), (42, "42")],
)
def test_text_is_stripped(raw: object, value: str) -> None:
    assert accepted(FieldType.TEXT, raw) == value


@pytest.mark.parametrize("raw", ["", "   ", "a" * 501, None, ["list"], True])
def test_text_refuses_blank_overlong_and_non_text(raw: object) -> None:
    refused(FieldType.TEXT, raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("2025-03-14", "2025-03-14"),
        (" 2024-02-29 ", "2024-02-29"),
        (date(2025, 1, 2), "2025-01-02"),
        (datetime(2025, 1, 2, 15, 30), "2025-01-02"),
    ],
)
def test_date_accepts_iso_calendar_dates(raw: object, value: str) -> None:
    assert accepted(FieldType.DATE, raw) == value


@pytest.mark.parametrize(
    "raw", ["next Tuesday", "14/03/2025", "20250314", "2025-W11-5", "2025-3-14", 20250314]
)
def test_date_refuses_other_forms_and_says_which_it_wants(raw: object) -> None:
    assert refused(FieldType.DATE, raw) == "expected a date as YYYY-MM-DD"


@pytest.mark.parametrize("raw", ["2025-02-29", "2025-13-01", "2025-04-31"])
def test_date_refuses_days_not_on_the_calendar(raw: str) -> None:
    assert "not a calendar date" in refused(FieldType.DATE, raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("14:30", "14:30"),
        ("9:05", "09:05"),
        ("09:05:59", "09:05"),
        ("00:00", "00:00"),
        ("23:59", "23:59"),
        (time(7, 45, 12), "07:45"),
    ],
)
def test_time_normalises_to_hh_mm(raw: object, value: str) -> None:
    assert accepted(FieldType.TIME, raw) == value


@pytest.mark.parametrize(
    "raw", ["24:00", "12:60", "12:00:60", "3pm", "1430", "12:5", "half past three", 1430]
)
def test_time_refuses_anything_but_24_hour_clock_times(raw: object) -> None:
    assert "HH:MM" in refused(FieldType.TIME, raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (5000, 5000.0),
        (12.5, 12.5),
        ("5000", 5000.0),
        ("$12,000", 12000.0),
        ("12k", 12000.0),
        ("1.5K", 1500.0),
        (" $ 3.25 ", 3.25),
        ("-4", -4.0),
    ],
)
def test_number_becomes_a_float(raw: object, value: float) -> None:
    result = accepted(FieldType.NUMBER, raw)
    assert isinstance(result, float)
    assert result == value


@pytest.mark.parametrize("raw", ["", "k", "twelve", "12m", "1.2.3", float("nan"), float("inf")])
def test_number_refuses_non_numbers(raw: object) -> None:
    refused(FieldType.NUMBER, raw)


@pytest.mark.parametrize("raw", [True, False])
def test_number_refuses_yes_no(raw: bool) -> None:
    assert "not yes/no" in refused(FieldType.NUMBER, raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (True, True),
        (False, False),
        ("yes", True),
        ("No", False),
        ("Y", True),
        ("n", False),
        ("TRUE", True),
        ("false", False),
        ("1", True),
        ("0", False),
        (1, True),
        (0, False),
    ],
)
def test_boolean_reads_yes_and_no(raw: object, value: bool) -> None:
    assert accepted(FieldType.BOOLEAN, raw) is value


@pytest.mark.parametrize("raw", ["maybe", "", 2, 1.0, "yes please"])
def test_boolean_refuses_anything_else(raw: object) -> None:
    assert refused(FieldType.BOOLEAN, raw) == "expected yes or no"


OPTIONS = ["Cleaning", "Check-up", "X-ray"]


@pytest.mark.parametrize(
    ("raw", "value"), [("cleaning", "Cleaning"), (" CHECK-UP ", "Check-up"), ("X-ray", "X-ray")]
)
def test_enum_returns_the_option_as_declared(raw: str, value: str) -> None:
    assert accepted(FieldType.ENUM, raw, OPTIONS) == value


@pytest.mark.parametrize("raw", ["filling", "", 1])
def test_enum_refuses_other_values_and_lists_the_options(raw: object) -> None:
    assert refused(FieldType.ENUM, raw, OPTIONS) == "expected one of: Cleaning, Check-up, X-ray"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("+1 (555) 123-4567", "+15551234567"),
        ("555.123.4567", "5551234567"),
        ("555 1234", "5551234"),
        ("+44 20 7946 0958", "+442079460958"),
        (5551234567, "5551234567"),
        ("123456789012345", "123456789012345"),
    ],
)
def test_phone_keeps_digits_and_a_leading_plus(raw: object, value: str) -> None:
    assert accepted(FieldType.PHONE, raw) == value


@pytest.mark.parametrize(
    "raw", ["123456", "1234567890123456", "555-CALL-NOW", "1+5551234567", "++15551234567", ""]
)
def test_phone_refuses_wrong_lengths_and_letters(raw: str) -> None:
    refused(FieldType.PHONE, raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("Jane.Doe@Example.COM", "Jane.Doe@example.com"),
        (" ops+calls@mail.example.co.uk ", "ops+calls@mail.example.co.uk"),
    ],
)
def test_email_lower_cases_the_domain(raw: str, value: str) -> None:
    assert accepted(FieldType.EMAIL, raw) == value


@pytest.mark.parametrize(
    "raw",
    [
        "jane",
        "jane@",
        "@example.com",
        "jane@example",
        "jane doe@example.com",
        "jane..doe@example.com",
        ".jane@example.com",
        "jane@-example.com",
        "jane@example..com",
        "a@b@example.com",
        f"{'a' * 250}@example.com",
        42,
    ],
)
def test_email_refuses_malformed_addresses(raw: object) -> None:
    assert "email address" in refused(FieldType.EMAIL, raw)


@pytest.mark.parametrize("field_type", list(FieldType))
def test_no_value_is_refused_for_every_type(field_type: FieldType) -> None:
    options = OPTIONS if field_type is FieldType.ENUM else None
    assert refused(field_type, None, options) == "no value given"


@pytest.mark.parametrize(
    ("field_type", "raw"),
    [
        (FieldType.TEXT, " x "),
        (FieldType.DATE, "2025-03-14"),
        (FieldType.TIME, "9:05:00"),
        (FieldType.NUMBER, "$1,200"),
        (FieldType.BOOLEAN, "yes"),
        (FieldType.ENUM, "cleaning"),
        (FieldType.PHONE, "+1 555 123 4567"),
        (FieldType.EMAIL, "a@EXAMPLE.com"),
    ],
)
def test_canonical_values_are_accepted_unchanged(field_type: FieldType, raw: object) -> None:
    # A workflow restores snapshots by normalising stored values again; that must be a no-op.
    options = OPTIONS if field_type is FieldType.ENUM else None
    once = accepted(field_type, raw, options)
    assert accepted(field_type, once, options) == once


def test_field_value_is_frozen() -> None:
    result = FieldValue(accepted=True, value="x", reason="")
    with pytest.raises(AttributeError):
        result.value = "y"  # type: ignore[misc]


def test_numbers_beyond_float_range_are_rejected_not_raised() -> None:
    from core.fields import DataField, FieldType
    from core.fields.values import normalise_value

    budget = DataField(name="budget", type=FieldType.NUMBER)
    assert not normalise_value(budget, 10**400).accepted
    assert not normalise_value(budget, "9" * 400 + "k").accepted
