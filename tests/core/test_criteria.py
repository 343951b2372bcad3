"""The documented rule mapping a success criterion to the required data it is about."""

from __future__ import annotations

import pytest

from core.goals.criteria import criterion_subject, fields_for_criterion

SCHEDULING_FIELDS = [
    "customer_name",
    "phone_number",
    "preferred_date",
    "preferred_time",
    "service_type",
]
SALES_FIELDS = ["company_name", "contact_name", "budget", "decision_maker", "timeline", "need"]


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("has_date", "date"),
        ("budget_identified", "budget"),
        ("decision_maker_identified", "decision_maker"),
        ("email_captured", "email"),
        ("address_provided", "address"),
        ("has_time_confirmed", "time"),
        ("outcome", "outcome"),
        ("has_", "has_"),
        ("identified", "identified"),
    ],
)
def test_subject_strips_has_prefix_and_status_suffix(name: str, subject: str) -> None:
    assert criterion_subject(name) == subject


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("has_date", ["preferred_date"]),
        ("has_time", ["preferred_time"]),
        ("has_service", ["service_type"]),
        ("has_phone", ["phone_number"]),
    ],
)
def test_seed_scheduling_criteria_map_to_their_fields(name: str, fields: list[str]) -> None:
    assert fields_for_criterion(name, True, SCHEDULING_FIELDS) == fields


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("budget_identified", ["budget"]),
        ("decision_maker_identified", ["decision_maker"]),
        ("timeline_identified", ["timeline"]),
        ("need_identified", ["need"]),
    ],
)
def test_seed_sales_criteria_map_to_their_fields(name: str, fields: list[str]) -> None:
    assert fields_for_criterion(name, True, SALES_FIELDS) == fields


def test_exact_name_wins_over_fields_that_merely_mention_it() -> None:
    assert fields_for_criterion("budget_identified", True, ["budget_notes", "budget"]) == ["budget"]


def test_every_affixed_field_counts_in_field_order() -> None:
    fields = ["end_date", "name", "start_date"]
    assert fields_for_criterion("has_date", True, fields) == ["end_date", "start_date"]


def test_whole_word_match_is_the_last_resort() -> None:
    fields = ["customer_need_summary", "needle_count"]
    assert fields_for_criterion("need_identified", True, fields) == ["customer_need_summary"]


def test_string_value_names_its_field_explicitly() -> None:
    fields = ["budget", "pain_points"]
    assert fields_for_criterion("need_identified", "pain_points", fields) == ["pain_points"]
    assert fields_for_criterion("need_identified", "missing_field", fields) == []


def test_criterion_matching_nothing_names_no_data() -> None:
    assert fields_for_criterion("has_budget", True, SCHEDULING_FIELDS) == []
    assert fields_for_criterion("need_identified", True, ["pain_points"]) == []
    assert fields_for_criterion("has_date", True, []) == []


def test_non_string_values_use_the_name_rule() -> None:
    assert fields_for_criterion("budget", 5000, SALES_FIELDS) == ["budget"]
    assert fields_for_criterion("has_date", False, SCHEDULING_FIELDS) == ["preferred_date"]
