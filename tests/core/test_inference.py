"""Required data inferred from success criteria, for goals that list none (the plan's examples)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.agents.snapshot import InstructionSnapshot
from core.agents.spec import AgentSpec, GoalSpec, InstructionKind
from core.fields import DataField, FieldType
from core.fields.inference import KNOWN_SUBJECTS, SUBJECT_ALIASES, infer_required_data
from core.goals.criteria import fields_for_criterion
from core.goals.manager import GoalManager
from core.instructions import validate_response

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def goal(criteria: dict[str, object], **fields: object) -> GoalSpec:
    return GoalSpec.model_validate({"name": "g", "success_criteria": criteria, **fields})


def declared(spec: GoalSpec) -> list[tuple[str, FieldType]]:
    return [(f.name, f.type) for f in spec.required_data]


def test_the_appointment_schedulers_fields_in_criteria_order() -> None:
    spec = AgentSpec.model_validate(
        json.loads((EXAMPLES / "appointment_scheduler.json").read_text())
    )
    [scheduling] = spec.goals
    assert isinstance(scheduling, GoalSpec)
    assert scheduling.required_data == [
        DataField(
            name="date",
            type=FieldType.DATE,
            description="the day that suits them",
            ask="What day works best for you?",
        ),
        DataField(
            name="time",
            type=FieldType.TIME,
            description="the time that suits them",
            ask="What time would suit you?",
        ),
        DataField(
            name="service",
            type=FieldType.TEXT,
            description="the service they need",
            ask="What can we help you with — which service do you need?",
        ),
    ]


def test_the_sales_qualifiers_fields() -> None:
    spec = AgentSpec.model_validate(json.loads((EXAMPLES / "sales_qualifier.json").read_text()))
    [qualifying] = spec.goals
    assert isinstance(qualifying, GoalSpec)
    assert declared(qualifying) == [
        ("budget", FieldType.NUMBER),
        ("timeline", FieldType.TEXT),
        ("decision_maker", FieldType.TEXT),
    ]
    by_name = {f.name: f for f in qualifying.required_data}
    assert by_name["decision_maker"].description == "who makes the buying decision"
    assert by_name["decision_maker"].ask == "Who else is involved in making the decision?"
    assert by_name["timeline"].description == "when they need a solution in place"
    assert by_name["timeline"].ask == "When are you hoping to have something in place?"
    assert by_name["budget"].description == "their budget"
    assert by_name["budget"].ask == "Roughly what budget do you have in mind?"


def test_each_inferred_field_is_what_its_criterion_is_about() -> None:
    criteria: dict[str, object] = {
        "has_date": True,
        "budget_identified": 5000,
        "decision_maker": True,
        "has_preferred_time": True,
        "party_size_identified": True,
        "need_identified": "pain_points",
        "has_vehicle_model": True,
    }
    spec = goal(criteria)
    names = [f.name for f in spec.required_data]
    for name, value in criteria.items():
        assert len(fields_for_criterion(name, value, names)) == 1, name
    assert names == [
        "date",
        "budget",
        "decision_maker",
        "preferred_time",
        "party_size",
        "pain_points",
        "vehicle_model",
    ]


def test_aliases_keep_the_criterions_name_and_take_the_known_question() -> None:
    [field] = goal({"has_preferred_date": True}).required_data
    assert (field.name, field.type) == ("preferred_date", FieldType.DATE)
    assert field.ask == "What day works best for you?"
    [field] = goal({"contact_name_captured": True}).required_data
    assert (field.name, field.ask) == ("contact_name", "Can I take your name, please?")


@pytest.mark.parametrize(
    ("criterion", "name", "field_type"),
    [
        ("has_name", "name", FieldType.TEXT),
        ("phone_provided", "phone", FieldType.PHONE),
        ("has_email", "email", FieldType.EMAIL),
        ("address_confirmed", "address", FieldType.TEXT),
        ("party_size_identified", "party_size", FieldType.NUMBER),
        ("company_identified", "company", FieldType.TEXT),
        ("need_identified", "need", FieldType.TEXT),
        ("reason_given", "reason", FieldType.TEXT),
    ],
)
def test_common_subjects(criterion: str, name: str, field_type: FieldType) -> None:
    [field] = goal({criterion: True}).required_data
    assert (field.name, field.type) == (name, field_type)
    assert field.description and field.ask and field.ask.endswith("?")


def test_unknown_subjects_are_fields_named_by_the_subject() -> None:
    spec = goal({"has_vehicle_model": True, "pickup_date_known": True, "deposit": 100})
    assert declared(spec) == [
        ("vehicle_model", FieldType.TEXT),
        ("pickup_date", FieldType.DATE),
        ("deposit", FieldType.NUMBER),  # only a number can clear a threshold
    ]
    vehicle = spec.required_data[0]
    assert vehicle.description == "vehicle model"
    assert vehicle.ask == "Could you tell me about the vehicle model?"
    assert spec.required_data[1].ask == "What pickup date should I put down?"


def test_switched_off_criteria_infer_nothing_and_repeats_infer_one() -> None:
    assert declared(goal({"has_date": True, "has_time": False})) == [("date", FieldType.DATE)]
    assert declared(goal({"has_date": True, "date_confirmed": True})) == [("date", FieldType.DATE)]
    assert goal({"has_time": False}).required_data == []


def test_a_goal_that_lists_its_data_is_left_as_written() -> None:
    written = goal(
        {"has_date": True, "has_service": True},
        required_data=["preferred_date", {"name": "service_type", "description": "treatment"}],
    )
    assert [f.model_dump() for f in written.required_data] == [
        {
            "name": "preferred_date",
            "type": FieldType.DATE,
            "description": "preferred date",
            "options": [],
            "ask": None,
        },
        {
            "name": "service_type",
            "type": FieldType.TEXT,
            "description": "treatment",
            "options": [],
            "ask": None,
        },
    ]


def test_inferred_data_round_trips_as_written_data() -> None:
    inferred = goal({"has_date": True, "has_time": True, "has_service": True})
    stored = json.loads(json.dumps(inferred.model_dump(mode="json")))
    assert GoalSpec.model_validate(stored) == inferred


def test_the_guided_order_is_the_order_of_the_criteria() -> None:
    manager = GoalManager([goal({"has_date": True, "has_time": True, "has_service": True})])
    asked = []
    for answer in ("2026-12-01", "15:00", "cleaning"):
        action = manager.get_next_action()
        assert action.kind == "ask" and action.field is not None
        asked.append(action.field)
        assert manager.track_progress(action.field, answer).accepted
    assert asked == ["date", "time", "service"]
    assert manager.check_completion()


def test_malformed_criteria_infer_nothing_rather_than_failing() -> None:
    assert infer_required_data({"has_1x": True, "odd": ["list"], "named": "Not A Name"}) == []


def test_every_known_subject_and_alias_is_well_formed() -> None:
    for alias, target in SUBJECT_ALIASES.items():
        assert target in KNOWN_SUBJECTS, alias
        assert alias not in KNOWN_SUBJECTS, alias
    for subject, known in KNOWN_SUBJECTS.items():
        assert known.ask.endswith("?") and known.ask[0].isupper(), subject
        # A question a person would ask, not a form label read aloud.
        assert "what is your" not in known.ask.lower(), subject


def test_no_inferred_question_breaks_a_dont_of_the_examples() -> None:
    donts = [
        InstructionSnapshot(kind=InstructionKind.DONT, text=text)
        for path in sorted(EXAMPLES.glob("*.json"))
        for text in json.loads(path.read_text())["instructions"]["donts"]
    ]
    for subject, known in KNOWN_SUBJECTS.items():
        assert validate_response(known.ask, donts) == [], subject
