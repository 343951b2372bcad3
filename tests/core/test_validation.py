"""Validating an agent configuration: every problem at once, each at its path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.agents.spec import AgentSpec
from core.agents.validation import Problem, validate_agent_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TEMPLATE_IDS = {1, 2}
PROMPTS = {1: "You book appointments.", 2: "You qualify leads."}


def check(config: dict[str, Any], **overrides: Any) -> list[Problem]:
    options: dict[str, Any] = {
        "template_ids": TEMPLATE_IDS,
        "domain_ids": {7},
        "template_base_prompts": PROMPTS,
    }
    options.update(overrides)
    return validate_agent_config(config, **options)


def valid_config() -> dict[str, Any]:
    """A document that lists its required data (the plan's own examples infer theirs)."""
    return json.loads((EXAMPLES / "dental_clinic.json").read_text())


def plan_config() -> dict[str, Any]:
    """The plan's Appointment Scheduler, as written: success criteria, no required data."""
    return json.loads((EXAMPLES / "appointment_scheduler.json").read_text())


def paths(problems: list[Problem]) -> list[str]:
    return [problem.path for problem in problems]


@pytest.mark.parametrize("filename", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_example_documents_are_valid(filename: str) -> None:
    config = json.loads((EXAMPLES / filename).read_text())
    AgentSpec.model_validate(config)
    assert check(config) == []
    assert check(config, template_base_prompts=None) == []


def test_goal_without_success_criteria() -> None:
    config = valid_config()
    config["goals"][0]["success_criteria"] = {}
    assert paths(check(config)) == ["goals[0].success_criteria"]


def test_goal_with_criteria_left_out() -> None:
    config = valid_config()
    del config["goals"][0]["success_criteria"]
    assert paths(check(config)) == ["goals[0].success_criteria"]


def test_criterion_naming_no_data() -> None:
    config = valid_config()
    config["goals"][0]["success_criteria"]["has_budget"] = True
    [problem] = check(config)
    assert problem.path == "goals[0].success_criteria.has_budget"
    assert "preferred_date" in problem.message  # says which fields there are


def test_criterion_naming_a_missing_field_explicitly() -> None:
    config = valid_config()
    config["goals"][0]["success_criteria"]["has_service"] = "treatment"
    assert paths(check(config)) == ["goals[0].success_criteria.has_service"]


@pytest.mark.parametrize(
    ("voice", "path"),
    [
        ({"speed": 2.5}, "voice.speed"),
        ({"speed": 0.1}, "voice.speed"),
        ({"pitch": 12.5}, "voice.pitch"),
        ({"pitch": -13}, "voice.pitch"),
        ({"emotion_default": "furious"}, "voice.emotion_default"),
    ],
)
def test_voice_out_of_range_or_unknown(voice: dict[str, Any], path: str) -> None:
    config = valid_config()
    config["voice"] = {**config["voice"], **voice}
    assert paths(check(config)) == [path]


def test_voice_at_range_edges_is_fine() -> None:
    config = valid_config()
    config["voice"] = {"emotion_default": "calm", "speed": 0.5, "pitch": -12}
    assert check(config) == []
    config["voice"] = {"emotion_default": "calm", "speed": 2.0, "pitch": 12}
    assert check(config) == []


def test_pitch_is_in_semitones_as_the_plan_writes_it() -> None:
    config = plan_config()
    for pitch in (0, -1, 0.5, 3, -12, 12):
        config["voice"]["pitch"] = pitch
        assert check(config) == [], pitch
    config["voice"]["pitch"] = 24
    [problem] = check(config)
    assert problem.path == "voice.pitch"
    assert "semitones" in problem.message and "-12" in problem.message


def test_plan_goal_without_required_data_is_valid() -> None:
    config = plan_config()
    assert "required_data" not in config["goals"][0]
    assert check(config) == []
    # Any subject infers a field, known to the lexicon or not.
    config["goals"][0]["success_criteria"]["has_vehicle_model"] = True
    assert check(config) == []


def test_criterion_not_covered_by_given_required_data_is_still_reported() -> None:
    config = plan_config()
    config["goals"][0]["required_data"] = ["preferred_date", "preferred_time"]
    [problem] = check(config)
    assert problem.path == "goals[0].success_criteria.has_service"
    assert "preferred_date, preferred_time" in problem.message


def test_a_switched_off_criterion_needs_no_data() -> None:
    config = valid_config()
    config["goals"][0]["success_criteria"]["deposit_taken"] = False
    assert check(config) == []
    config = plan_config()
    config["goals"][0]["success_criteria"]["deposit_taken"] = False
    assert check(config) == []


def test_unknown_template() -> None:
    config = {**valid_config(), "template_id": 99}
    [problem] = check(config)
    assert problem.path == "template_id"
    assert "99" in problem.message


def test_unknown_domain_id() -> None:
    config = {**valid_config(), "domain_ids": [7, 8]}
    assert paths(check(config)) == ["domain_ids[1]"]


def test_domain_by_name_is_never_a_problem() -> None:
    config = {**valid_config(), "domain": "A Brand New Domain"}
    assert check(config, domain_ids=set()) == []


def test_blank_base_prompt_override() -> None:
    config = {**valid_config(), "base_prompt": "   "}
    assert paths(check(config)) == ["base_prompt"]


def test_blank_template_prompt_without_override() -> None:
    config = valid_config()
    assert paths(check(config, template_base_prompts={1: " \n"})) == ["base_prompt"]
    # An override rescues a template with no prompt of its own.
    config["base_prompt"] = "You book appointments."
    assert check(config, template_base_prompts={1: ""}) == []


def test_do_and_dont_that_contradict() -> None:
    config = valid_config()
    config["instructions"] = {
        "dos": ["Be polite", "Confirm the appointment time."],
        "donts": ["Don't discuss pricing", "Don't confirm the appointment time"],
    }
    [problem] = check(config)
    assert problem.path == "instructions.donts[1]"
    assert "instructions.dos[1]" in problem.message


def test_enum_field_without_options_is_reported_at_the_field() -> None:
    config = valid_config()
    config["goals"][0]["required_data"].append({"name": "visit_kind", "type": "enum"})
    [problem] = check(config)
    assert problem.path == "goals[0].required_data[5]"
    assert "options" in problem.message


def test_goal_given_by_id_is_only_type_checked() -> None:
    config = {**valid_config(), "goals": [3, "Schedule Appointment"]}
    [problem] = check(config)
    assert problem.path == "goals[1]"


def test_bad_criterion_value_is_one_problem() -> None:
    config = valid_config()
    config["goals"][0]["success_criteria"]["has_date"] = ["yes"]
    [problem] = check(config)
    assert problem.path == "goals[0].success_criteria.has_date"


def test_many_problems_reported_at_once() -> None:
    config = valid_config()
    config["template_id"] = 42
    config["goals"][0]["success_criteria"] = {"has_date": True, "has_color": True}
    config["goals"].append({"name": "Follow up", "required_data": ["email"]})
    config["voice"] = {"emotion_default": "sleepy", "speed": 3.0, "pitch": 20}
    config["instructions"]["donts"].append("Don't be warm and patient with every caller")
    config["domain_ids"] = [1]
    assert sorted(paths(check(config))) == sorted(
        [
            "template_id",
            "goals[0].success_criteria.has_color",
            "goals[1].success_criteria",
            "voice.emotion_default",
            "voice.speed",
            "voice.pitch",
            "instructions.donts[4]",
            "domain_ids[0]",
        ]
    )


def test_semantic_problems_are_reported_alongside_parse_errors() -> None:
    config = valid_config()
    del config["name"]
    config["voice"]["speed"] = "fast"
    config["voice"]["pitch"] = 19.0
    config["goals"][0]["success_criteria"] = {}
    assert sorted(paths(check(config))) == sorted(
        ["name", "voice.speed", "voice.pitch", "goals[0].success_criteria"]
    )


def test_problems_are_not_repeated() -> None:
    config = valid_config()
    config["voice"]["speed"] = 5.0
    problems = check(config)
    assert len(problems) == len(set(problems)) == 1


def test_malformed_criterion_name_is_reported_once() -> None:
    config = valid_config()
    config["goals"][0]["success_criteria"]["Has Date"] = True
    [problem] = check(config)
    assert problem.path == "goals[0].success_criteria.Has Date"
    assert "lower_snake_case" in problem.message
