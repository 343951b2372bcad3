"""Checking an agent configuration document, reporting every problem at once with its path.

Paths are dotted, with list indices in brackets: `goals[0].success_criteria.has_date`,
`voice.speed`, `instructions.donts[1]`. Two passes run on every document:

1. Parsing with `AgentSpec`; each pydantic error becomes a `Problem` at its location.
2. Semantic checks (ranges, unknown ids, criteria naming no data, contradicting rules, an empty
   base prompt). They read the raw document defensively, so they run even when parsing failed and
   the admin sees the whole list in one round trip; a part of the wrong shape is left to pass 1.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from core.agents.spec import (
    EMOTIONS,
    PITCH_RANGE,
    SPEED_RANGE,
    AgentSpec,
    normalise_instruction,
)
from core.fields.declaration import FIELD_NAME_PATTERN
from core.fields.inference import infer_required_data
from core.goals.criteria import fields_for_criterion


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an agent configuration: where (`path`) and what (`message`)."""

    path: str
    message: str


def validate_agent_config(
    config: Mapping[str, Any],
    *,
    template_ids: Collection[int],
    domain_ids: Collection[int],
    template_base_prompts: Mapping[int, str] | None = None,
) -> list[Problem]:
    """Every problem in `config`, parse errors first; an empty list means the agent can be built.

    `template_ids` and `domain_ids` are the ids that exist; `template_base_prompts`, when given,
    lets an agent that relies on its template's prompt be checked for an empty one.
    """
    raw = dict(config)
    problems = _parse_problems(raw)
    problems += _goal_problems(raw)
    problems += _voice_problems(raw)
    problems += _reference_problems(raw, template_ids, domain_ids)
    problems += _base_prompt_problems(raw, template_base_prompts)
    problems += _contradiction_problems(raw)
    return list(dict.fromkeys(problems))


def validate_goal(goal: Mapping[str, Any]) -> list[Problem]:
    """The semantic problems of one goal (criteria present, each naming a field), with paths
    relative to the goal (`success_criteria.has_date`)."""
    prefix = "goals[0]."
    return [
        Problem(p.path.removeprefix(prefix), p.message) for p in _goal_problems({"goals": [goal]})
    ]


def validate_voice(voice: Mapping[str, Any], *, path: str = "voice") -> list[Problem]:
    """The problems of a voice (speed and pitch in range, a known emotion), at `path`."""
    return [
        Problem(path + p.path.removeprefix("voice"), p.message)
        for p in _voice_problems({"voice": voice})
    ]


def format_path(parts: Collection[str | int]) -> str:
    """`("goals", 0, "name")` → `goals[0].name`."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


# --- pass 1: parsing ---------------------------------------------------------------------------

# `int` is tagged `constrained-int` once bounded (a row id).
_GOAL_TAGS = ("GoalSpec", "int", "constrained-int")
_CRITERION_VALUE_TAGS = ("bool", "int", "float", "str")
_CRITERION_VALUE_MESSAGE = "a criterion's value is true/false, a number or a field name"


def _parse_problems(raw: dict[str, Any]) -> list[Problem]:
    try:
        AgentSpec.model_validate(raw)
    except ValidationError as error:
        return [
            problem for detail in error.errors() for problem in _problems_from_error(raw, detail)
        ]
    return []


def _problems_from_error(raw: dict[str, Any], detail: ErrorDetails) -> Iterator[Problem]:
    loc = list(detail["loc"])
    message = detail["msg"].removeprefix("Value error, ")
    # `goals` items are `GoalSpec | int`: pydantic reports a failure against each member, tagged
    # with its name. Keep only the member the admin evidently meant.
    if len(loc) >= 3 and loc[0] == "goals" and isinstance(loc[1], int) and loc[2] in _GOAL_TAGS:
        goal = _get(raw, "goals", loc[1])
        if isinstance(goal, Mapping):
            if loc[2] != "GoalSpec":
                return
            del loc[2]
        else:
            yield Problem(format_path(loc[:2]), "a goal is an object or a goal id (an integer)")
            return
    # Criterion values are a union too (bool | int | float | str): one problem, not four.
    if len(loc) >= 5 and loc[-3] == "success_criteria" and loc[-1] in _CRITERION_VALUE_TAGS:
        del loc[-1]
        message = _CRITERION_VALUE_MESSAGE
    if loc and loc[-1] == "[key]":
        del loc[-1]
        message = f"criterion names are lower_snake_case ({message.lower()})"
    yield Problem(format_path(loc), message)


# --- pass 2: semantic checks on the raw document -----------------------------------------------


def _get(value: Any, *keys: str | int) -> Any:
    """`value[k1][k2]…`, or None as soon as a step does not exist or has the wrong shape."""
    for key in keys:
        if isinstance(key, int) and isinstance(value, list) and 0 <= key < len(value):
            value = value[key]
        elif isinstance(key, str) and isinstance(value, Mapping):
            value = value.get(key)
        else:
            return None
    return value


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _goal_problems(raw: dict[str, Any]) -> list[Problem]:
    goals = raw.get("goals")
    if not isinstance(goals, list):
        return []
    problems = []
    for index, goal in enumerate(goals):
        # A goal given by id was checked when it was created.
        if not isinstance(goal, Mapping):
            continue
        criteria = goal.get("success_criteria")
        path = f"goals[{index}].success_criteria"
        if criteria is None or criteria == {}:
            problems.append(Problem(path, "a goal needs at least one success criterion"))
            continue
        if not isinstance(criteria, Mapping):
            continue
        field_names = _field_names(goal.get("required_data"), criteria)
        for name, value in criteria.items():
            # A malformed name is already a parse problem at this path; one report is enough.
            if not isinstance(name, str) or not re.match(FIELD_NAME_PATTERN, name):
                continue
            # `false` switches a criterion off: it is always met and needs no data.
            if value is False:
                continue
            if not fields_for_criterion(name, value, field_names):
                known = ", ".join(field_names) or "none"
                problems.append(
                    Problem(
                        f"{path}.{name}",
                        f"names no required data field of this goal (its fields: {known})",
                    )
                )
    return problems


def _field_names(required_data: Any, criteria: Mapping[Any, Any]) -> list[str]:
    # No required data at all: `GoalSpec` infers it from the criteria, and so does this check.
    if required_data is None or required_data == []:
        return [f.name for f in infer_required_data(criteria)]
    if not isinstance(required_data, list):
        return []
    names = []
    for item in required_data:
        # The same normalisation `DataField` applies to a bare name.
        if isinstance(item, str):
            names.append(item.strip().lower())
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
            names.append(item["name"])
    return names


# Each voice number with its range and what it means, so the message says how to fix it.
_VOICE_RANGES = (
    (
        "speed",
        SPEED_RANGE,
        f"must be between {SPEED_RANGE[0]} and {SPEED_RANGE[1]} (1.0 is normal)",
    ),
    (
        "pitch",
        PITCH_RANGE,
        f"must be between {PITCH_RANGE[0]:+g} and {PITCH_RANGE[1]:+g} semitones "
        "(0 keeps the voice's own pitch)",
    ),
)


def _voice_problems(raw: dict[str, Any]) -> list[Problem]:
    voice = raw.get("voice")
    if not isinstance(voice, Mapping):
        return []
    problems = []
    for key, (low, high), message in _VOICE_RANGES:
        value = voice.get(key)
        if _is_number(value) and not low <= value <= high:
            problems.append(Problem(f"voice.{key}", message))
    emotion = voice.get("emotion_default")
    if isinstance(emotion, str) and emotion not in EMOTIONS:
        problems.append(
            Problem("voice.emotion_default", f"unknown emotion; use one of {', '.join(EMOTIONS)}")
        )
    return problems


def _reference_problems(
    raw: dict[str, Any], template_ids: Collection[int], domain_ids: Collection[int]
) -> list[Problem]:
    problems = []
    template_id = raw.get("template_id")
    if _is_number(template_id) and template_id not in template_ids:
        problems.append(Problem("template_id", f"no template has id {template_id}"))
    given_domains = raw.get("domain_ids")
    if isinstance(given_domains, list):
        for index, domain_id in enumerate(given_domains):
            if _is_number(domain_id) and domain_id not in domain_ids:
                problems.append(Problem(f"domain_ids[{index}]", f"no domain has id {domain_id}"))
    return problems


def _base_prompt_problems(
    raw: dict[str, Any], template_base_prompts: Mapping[int, str] | None
) -> list[Problem]:
    override = raw.get("base_prompt")
    if isinstance(override, str):
        if not override.strip():
            return [Problem("base_prompt", "the base prompt is blank; give one or leave it out")]
        return []
    template_id = raw.get("template_id")
    if override is not None or template_base_prompts is None or not _is_number(template_id):
        return []
    # An unknown template is reported by `_reference_problems`; only a known, blank one is here.
    template_prompt = template_base_prompts.get(int(template_id))
    if template_prompt is not None and not template_prompt.strip():
        return [
            Problem(
                "base_prompt",
                f"template {template_id} has an empty base prompt; give a base_prompt",
            )
        ]
    return []


def _contradiction_problems(raw: dict[str, Any]) -> list[Problem]:
    dos, donts = _get(raw, "instructions", "dos"), _get(raw, "instructions", "donts")
    if not isinstance(dos, list) or not isinstance(donts, list):
        return []
    do_index = {
        normalise_instruction(text): index
        for index, text in reversed(list(enumerate(dos)))
        if isinstance(text, str)
    }
    problems = []
    for index, text in enumerate(donts):
        if not isinstance(text, str):
            continue
        words = normalise_instruction(text)
        if words and words in do_index:
            clash = do_index[words]
            problems.append(
                Problem(
                    f"instructions.donts[{index}]",
                    f"contradicts instructions.dos[{clash}] ({dos[clash]!r})",
                )
            )
    return problems
