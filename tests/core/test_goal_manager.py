"""GoalManager: goal completion, the next action, corrections, confirmation and snapshots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.agents.spec import AgentSpec, GoalSpec
from core.goals.manager import CriterionState, GoalManager, NextAction

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_goals(name: str) -> list[GoalSpec]:
    spec = AgentSpec.model_validate(json.loads((EXAMPLES / name).read_text()))
    return [g for g in spec.goals if isinstance(g, GoalSpec)]


def goal(name: str, criteria: dict[str, Any], fields: list[Any]) -> GoalSpec:
    return GoalSpec.model_validate(
        {"name": name, "success_criteria": criteria, "required_data": fields}
    )


SCHEDULE = "Schedule Appointment"
SCHEDULING_ANSWERS = {
    "customer_name": "Jane Doe",
    "phone_number": "+1 (555) 123-4567",
    "preferred_date": "2025-03-14",
    "preferred_time": "9:30",
    "service_type": "cleaning",
}


@pytest.fixture
def scheduler() -> GoalManager:
    return GoalManager(example_goals("dental_clinic.json"))


def test_a_fresh_call_starts_by_asking_for_the_first_required_field(
    scheduler: GoalManager,
) -> None:
    assert scheduler.start_conversation() == NextAction(
        kind="ask",
        goal=SCHEDULE,
        field="customer_name",
        fields=("customer_name",),
        description="customer name",
    )
    assert not scheduler.check_completion()


def test_scheduler_asks_in_required_data_order_then_confirms_then_closes(
    scheduler: GoalManager,
) -> None:
    asked: list[str] = []
    action = scheduler.start_conversation()
    while action.kind == "ask":
        assert action.field is not None
        asked.append(action.field)
        result = scheduler.track_progress(action.field, SCHEDULING_ANSWERS[action.field])
        assert result.accepted, result.reason
        action = scheduler.get_next_action()
    assert asked == list(SCHEDULING_ANSWERS)
    assert action.kind == "confirm"
    assert action.goal == SCHEDULE
    assert action.fields == tuple(SCHEDULING_ANSWERS)
    assert action.description == (
        "customer name, phone number, preferred date, preferred time and service type"
    )
    assert scheduler.confirm() == list(SCHEDULING_ANSWERS)
    assert scheduler.get_next_action() == NextAction(kind="close", goal=None, field=None)
    assert scheduler.captured == {
        "customer_name": "Jane Doe",
        "phone_number": "+15551234567",
        "preferred_date": "2025-03-14",
        "preferred_time": "09:30",
        "service_type": "cleaning",
    }


def test_scheduler_completes_exactly_when_date_time_and_service_are_captured(
    scheduler: GoalManager,
) -> None:
    # Out of the asking order: the criteria's fields first, so completion comes before the name.
    first = scheduler.track_progress("preferred_date", "2025-03-14")
    assert first.newly_completed == []
    assert scheduler.track_progress("preferred_time", "14:00").newly_completed == []
    [state] = scheduler.goal_states()
    assert not state.complete
    assert state.criteria == (
        CriterionState("has_date", ("preferred_date",), True),
        CriterionState("has_time", ("preferred_time",), True),
        CriterionState("has_service", ("service_type",), False),
    )
    assert state.missing_fields == ("customer_name", "phone_number", "service_type")

    done = scheduler.track_progress("service_type", "Check-up")
    assert done.accepted
    assert done.newly_completed == [SCHEDULE]
    assert scheduler.check_completion()
    [state] = scheduler.goal_states()
    assert state.complete
    assert state.missing_fields == ("customer_name", "phone_number")

    # Still required data: the goal is met, but the call goes on to collect it, reported once.
    assert scheduler.get_next_action().field == "customer_name"
    assert scheduler.track_progress("customer_name", "Jane").newly_completed == []
    assert scheduler.track_progress("service_type", "X-ray").newly_completed == []
    assert scheduler.get_next_action().field == "phone_number"


def test_sales_qualifier_completes_on_budget_authority_need_and_timeline() -> None:
    manager = GoalManager(example_goals("saas_lead_qualifier.json"))
    assert manager.start_conversation().field == "company_name"
    assert manager.track_progress("company_name", "Acme").accepted
    assert manager.track_progress("contact_name", "Sam").accepted
    budget = manager.track_progress("budget", "$50k")
    assert budget.value == 50000.0
    assert manager.track_progress("decision_maker", "Sam, the CTO").newly_completed == []
    assert manager.track_progress("timeline", "this quarter").newly_completed == []
    assert manager.get_next_action().field == "need"
    assert manager.track_progress("need", "call routing").newly_completed == ["Qualify Lead"]
    assert manager.check_completion()
    assert manager.get_next_action().kind == "confirm"


def test_sales_budget_must_be_a_number() -> None:
    manager = GoalManager(example_goals("saas_lead_qualifier.json"))
    result = manager.track_progress("budget", "lots")
    assert not result.accepted
    assert result.reason == "expected a number"
    assert "budget" not in manager.captured


def test_a_field_shared_by_two_goals_is_captured_once_and_counts_for_both() -> None:
    booking = goal("Book", {"has_date": True, "has_email": True}, ["preferred_date", "email"])
    reminder = goal("Remind", {"has_email": True}, ["email", "wants_sms"])
    manager = GoalManager([booking, reminder])
    assert manager.field_names == ("preferred_date", "email", "wants_sms")

    result = manager.track_progress("email", "jo@Example.com")
    assert result.value == "jo@example.com"
    assert result.newly_completed == ["Remind"]
    assert manager.track_progress("preferred_date", "2025-05-01").newly_completed == ["Book"]
    assert manager.check_completion()

    # Book is complete with all its data: confirm it; then Remind's remaining field; then Remind.
    action = manager.get_next_action()
    assert (action.kind, action.goal, action.fields) == (
        "confirm",
        "Book",
        ("preferred_date", "email"),
    )
    manager.confirm(action.fields)
    assert manager.get_next_action().field == "wants_sms"
    manager.track_progress("wants_sms", "yes")
    # email was confirmed with Book, so only wants_sms is left to read back.
    action = manager.get_next_action()
    assert (action.kind, action.goal, action.fields) == ("confirm", "Remind", ("wants_sms",))


def test_incomplete_goals_are_asked_before_the_leftovers_of_complete_ones() -> None:
    first = goal("First", {"has_date": True}, ["customer_name", "preferred_date"])
    second = goal("Second", {"has_email": True}, ["email"])
    manager = GoalManager([first, second])
    assert manager.track_progress("preferred_date", "2025-05-01").newly_completed == ["First"]
    assert manager.get_next_action() == NextAction(
        kind="ask", goal="Second", field="email", fields=("email",), description="email"
    )
    manager.track_progress("email", "a@b.co")
    # Second is done with all its data: read it back while it is fresh, then First's leftover.
    action = manager.get_next_action()
    assert (action.kind, action.goal, action.fields) == ("confirm", "Second", ("email",))
    manager.confirm(action.fields)
    assert manager.get_next_action().field == "customer_name"


def test_a_correction_replaces_the_value_and_clears_its_confirmation(
    scheduler: GoalManager,
) -> None:
    for name, value in SCHEDULING_ANSWERS.items():
        scheduler.track_progress(name, value)
    scheduler.confirm()
    assert scheduler.get_next_action().kind == "close"

    result = scheduler.track_progress("preferred_time", "15:00:00")
    assert (result.accepted, result.value, result.newly_completed) == (True, "15:00", [])
    assert scheduler.captured["preferred_time"] == "15:00"
    assert scheduler.confirmed == set(SCHEDULING_ANSWERS) - {"preferred_time"}
    action = scheduler.get_next_action()
    assert (action.kind, action.fields) == ("confirm", ("preferred_time",))
    assert action.description == "preferred time"


def test_repeating_the_same_value_keeps_its_confirmation(scheduler: GoalManager) -> None:
    scheduler.track_progress("preferred_time", "15:00")
    scheduler.confirm(["preferred_time"])
    scheduler.track_progress("preferred_time", "15:00:00")
    assert "preferred_time" in scheduler.confirmed


def test_a_refused_correction_keeps_the_old_value(scheduler: GoalManager) -> None:
    scheduler.track_progress("preferred_date", "2025-03-14")
    scheduler.confirm()
    result = scheduler.track_progress("preferred_date", "the fourteenth")
    assert not result.accepted
    assert result.reason == "expected a date as YYYY-MM-DD"
    assert scheduler.captured["preferred_date"] == "2025-03-14"
    assert scheduler.confirmed == {"preferred_date"}


def test_confirm_ignores_fields_not_captured(scheduler: GoalManager) -> None:
    scheduler.track_progress("customer_name", "Jane")
    assert scheduler.confirm(["customer_name", "service_type", "nonsense"]) == ["customer_name"]
    assert scheduler.confirm() == []
    assert scheduler.confirmed == {"customer_name"}


def test_an_unknown_field_is_refused_with_the_known_ones(scheduler: GoalManager) -> None:
    result = scheduler.track_progress("insurance_number", "123")
    assert not result.accepted
    assert result.value is None
    assert result.newly_completed == []
    assert result.reason.startswith("unknown field 'insurance_number'")
    assert "preferred_date" in result.reason
    assert scheduler.captured == {}


def test_a_false_criterion_is_not_required() -> None:
    manager = GoalManager(
        [goal("Intake", {"has_name": True, "has_email": False}, ["customer_name", "email"])]
    )
    [state] = manager.goal_states()
    assert state.criteria[1] == CriterionState("has_email", ("email",), True)
    assert manager.track_progress("customer_name", "Jo").newly_completed == ["Intake"]
    # Still required data, so still asked for; the goal just does not wait for it.
    assert manager.get_next_action().field == "email"


def test_a_number_criterion_needs_the_value_to_reach_it() -> None:
    manager = GoalManager(
        [goal("Qualify", {"budget_identified": 10000}, ["budget", "company_name"])]
    )
    low = manager.track_progress("budget", "5k")
    assert (low.accepted, low.newly_completed) == (True, [])
    assert not manager.check_completion()
    # The caller's answer missed the threshold; asking again cannot help, so move on.
    assert manager.get_next_action().field == "company_name"
    manager.track_progress("company_name", "Acme")
    action = manager.get_next_action()
    assert (action.kind, action.goal, action.fields) == (
        "confirm",
        None,
        ("budget", "company_name"),
    )
    manager.confirm()
    assert manager.get_next_action().kind == "close"
    assert not manager.check_completion()

    assert manager.track_progress("budget", "$10,000").newly_completed == ["Qualify"]
    assert manager.check_completion()


def test_a_number_criterion_over_a_non_number_is_not_met() -> None:
    manager = GoalManager([goal("Q", {"has_timeline": 3}, ["timeline"])])
    manager.track_progress("timeline", "5")
    assert not manager.check_completion()


def test_a_string_criterion_names_its_field() -> None:
    manager = GoalManager(
        [goal("Discover", {"need_identified": "pain_points"}, ["company_name", "pain_points"])]
    )
    [state] = manager.goal_states()
    assert state.criteria == (CriterionState("need_identified", ("pain_points",), False),)
    assert manager.track_progress("pain_points", "missed calls").newly_completed == ["Discover"]


def test_a_criterion_about_no_field_is_never_met() -> None:
    manager = GoalManager([goal("Odd", {"has_budget": True}, ["customer_name"])])
    manager.track_progress("customer_name", "Jo")
    assert not manager.check_completion()
    assert manager.goal_states()[0].criteria == (CriterionState("has_budget", (), False),)


def test_a_goal_without_criteria_completes_with_its_data() -> None:
    manager = GoalManager([goal("Collect", {}, ["customer_name", "email"])])
    assert manager.track_progress("customer_name", "Jo").newly_completed == []
    assert manager.track_progress("email", "jo@example.com").newly_completed == ["Collect"]


def test_no_goals_means_close_at_once() -> None:
    manager = GoalManager([])
    assert manager.check_completion()
    assert manager.start_conversation().kind == "close"


def test_typed_fields_are_checked_by_their_declared_type() -> None:
    manager = GoalManager(
        [
            goal(
                "Pick",
                {"has_plan": True},
                [{"name": "plan", "type": "enum", "options": ["Basic", "Pro"], "description": ""}],
            )
        ]
    )
    assert manager.get_next_action().description == "plan"  # falls back to the field's name
    assert not manager.track_progress("plan", "Gold").accepted
    assert manager.track_progress("plan", "pro").value == "Pro"


def test_snapshot_round_trips_through_json(scheduler: GoalManager) -> None:
    goals = example_goals("dental_clinic.json")
    scheduler.track_progress("preferred_date", "2025-03-14")
    scheduler.track_progress("preferred_time", "9:30")
    scheduler.track_progress("service_type", "cleaning")
    scheduler.track_progress("customer_name", "Jane")
    scheduler.confirm(["preferred_date", "preferred_time"])

    restored = GoalManager.from_snapshot(goals, json.loads(json.dumps(scheduler.snapshot())))
    assert restored.captured == scheduler.captured
    assert restored.confirmed == scheduler.confirmed
    assert restored.goal_states() == scheduler.goal_states()
    assert restored.get_next_action() == scheduler.get_next_action()
    # Completion was already reported before the snapshot; the restored manager does not repeat it.
    assert restored.track_progress("service_type", "x-ray").newly_completed == []


def test_snapshot_of_numbers_restores_floats() -> None:
    goals = example_goals("saas_lead_qualifier.json")
    manager = GoalManager(goals)
    manager.track_progress("budget", 12000)
    snapshot = json.loads(json.dumps(manager.snapshot()))
    snapshot["captured"]["budget"] = 12000  # as a JSON encoder may write a whole number
    restored = GoalManager.from_snapshot(goals, snapshot)
    assert restored.captured["budget"] == 12000.0
    assert isinstance(restored.captured["budget"], float)


@pytest.mark.parametrize(
    ("snapshot", "message"),
    [
        ({"version": 99, "captured": {}}, "version"),
        ({"version": 1, "captured": {"insurance": "x"}}, "insurance"),
        ({"version": 1, "captured": {"preferred_date": "soon"}}, "YYYY-MM-DD"),
    ],
)
def test_a_snapshot_that_does_not_fit_the_goals_is_refused(
    snapshot: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        GoalManager.from_snapshot(example_goals("dental_clinic.json"), snapshot)


def test_state_views_are_copies(scheduler: GoalManager) -> None:
    scheduler.track_progress("customer_name", "Jane")
    scheduler.captured["customer_name"] = "Mallory"
    assert scheduler.captured == {"customer_name": "Jane"}
