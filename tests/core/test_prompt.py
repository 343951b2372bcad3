"""The compiled system prompt an agent's brain runs with."""

from __future__ import annotations

import json
from pathlib import Path

from core.agents.prompt import compile_system_prompt
from core.agents.snapshot import AgentSnapshot, DomainSnapshot, InstructionSnapshot
from core.agents.spec import AgentSpec, GoalSpec, InstructionKind, VoiceSpec
from core.agents.templates import STARTER_TEMPLATES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def snapshot_from_example(filename: str) -> AgentSnapshot:
    spec = AgentSpec.model_validate(json.loads((EXAMPLES / filename).read_text()))
    template = next(t for t in STARTER_TEMPLATES if t.id == spec.template_id)
    # Earlier list items carry higher priority, as the spec documents.
    instructions = [
        InstructionSnapshot(kind=kind, text=text, priority=100 - index)
        for kind, texts in (
            (InstructionKind.DO, spec.instructions.dos),
            (InstructionKind.DONT, spec.instructions.donts),
        )
        for index, text in enumerate(texts)
    ]
    return AgentSnapshot(
        name=spec.name,
        template_name=template.name,
        base_prompt=template.base_prompt,
        greeting="Thanks for calling Bright Smile Dental, how can I help?",
        goals=[goal for goal in spec.goals if isinstance(goal, GoalSpec)],
        instructions=instructions,
        domains=[
            DomainSnapshot(
                name=spec.domain or "",
                description="A family clinic open weekdays.",
                item_titles=["Opening hours", "Services offered", "Parking"],
            )
        ],
        voice=spec.voice or VoiceSpec(),
    )


def test_every_do_and_dont_appears_verbatim() -> None:
    for filename in sorted(path.name for path in EXAMPLES.glob("*.json")):
        agent = snapshot_from_example(filename)
        prompt = compile_system_prompt(agent)
        assert agent.instructions
        for instruction in agent.instructions:
            assert instruction.text in prompt


def test_dos_and_donts_are_grouped_under_their_headings() -> None:
    prompt = compile_system_prompt(snapshot_from_example("dental_clinic.json"))
    do_at, dont_at = prompt.index("Do:\n"), prompt.index("Don't:\n")
    assert do_at < prompt.index("Always confirm the appointment details") < dont_at
    assert dont_at < prompt.index("Don't discuss pricing")


def test_goals_with_required_data_and_success_in_words() -> None:
    prompt = compile_system_prompt(snapshot_from_example("dental_clinic.json"))
    assert "## Goals" in prompt
    assert "Schedule Appointment" in prompt
    for field in ("customer_name", "phone_number", "preferred_date", "preferred_time"):
        assert field in prompt
    assert "preferred_date (date)" in prompt
    assert "the date is known (preferred_date)" in prompt
    assert "the service is known (service_type)" in prompt


def test_the_plans_documents_show_their_inferred_data_and_how_to_ask() -> None:
    prompt = compile_system_prompt(snapshot_from_example("appointment_scheduler.json"))
    assert "Goal 1: schedule_appointment" in prompt
    assert '- date (date): the day that suits them; ask it as "What day works best for you?"' in (
        prompt
    )
    assert prompt.index("- date (date)") < prompt.index("- time (time)")
    assert prompt.index("- time (time)") < prompt.index("- service (text)")
    assert "the date is known (date), the time is known (time)" in prompt
    for rule in ("Confirm details before ending", "Don't pressure for immediate booking"):
        assert rule in prompt

    prompt = compile_system_prompt(snapshot_from_example("sales_qualifier.json"))
    assert "- budget (number): their budget" in prompt
    assert '"Who else is involved in making the decision?"' in prompt
    assert "Don't make promises" in prompt


def test_a_switched_off_criterion_is_not_part_of_success() -> None:
    goal = GoalSpec.model_validate(
        {"name": "Book", "success_criteria": {"has_date": True, "deposit_taken": False}}
    )
    agent = AgentSnapshot(name="A", template_name="T", base_prompt="Book.", goals=[goal])
    prompt = compile_system_prompt(agent)
    assert "The goal is met when the date is known (date)." in prompt
    assert "deposit" not in prompt


def test_enum_field_lists_its_options() -> None:
    goal = GoalSpec.model_validate(
        {
            "name": "Route call",
            "success_criteria": {"department_identified": True},
            "required_data": [
                {"name": "department", "type": "enum", "options": ["billing", "support"]}
            ],
        }
    )
    agent = AgentSnapshot(name="Router", template_name="Support", base_prompt="Help.", goals=[goal])
    assert "department (enum: one of billing, support)" in compile_system_prompt(agent)


def test_domain_voice_greeting_and_phone_style_are_included() -> None:
    prompt = compile_system_prompt(snapshot_from_example("dental_clinic.json"))
    assert "Domain: Medical Clinic" in prompt
    assert "A family clinic open weekdays." in prompt
    assert "Opening hours; Services offered; Parking" in prompt
    assert "Default tone: friendly" in prompt
    assert "Thanks for calling Bright Smile Dental, how can I help?" in prompt
    assert "one question at a time" in prompt
    assert "Keep replies short" in prompt


def test_base_prompt_comes_first_verbatim() -> None:
    agent = snapshot_from_example("sales_qualifier.json")
    prompt = compile_system_prompt(agent)
    assert prompt.startswith("## Role\n")
    assert agent.base_prompt.strip() in prompt
    assert prompt.index(agent.base_prompt.strip()) < prompt.index("## Goals")


def test_same_snapshot_gives_the_same_bytes() -> None:
    first = compile_system_prompt(snapshot_from_example("sales_qualifier.json"))
    second = compile_system_prompt(snapshot_from_example("sales_qualifier.json"))
    assert first.encode() == second.encode()


def test_inactive_instructions_are_left_out() -> None:
    agent = AgentSnapshot(
        name="A",
        template_name="T",
        base_prompt="Be helpful.",
        instructions=[
            InstructionSnapshot(kind=InstructionKind.DO, text="Mention the weekly offer"),
            InstructionSnapshot(kind=InstructionKind.DONT, text="Don't swear", active=False),
            InstructionSnapshot(kind=InstructionKind.DO, text="Say aloha", active=False),
        ],
    )
    prompt = compile_system_prompt(agent)
    assert "Mention the weekly offer" in prompt
    assert "Don't swear" not in prompt
    assert "Say aloha" not in prompt
    assert "Don't:" not in prompt


def test_higher_priority_comes_first_and_ties_keep_their_order() -> None:
    agent = AgentSnapshot(
        name="A",
        template_name="T",
        base_prompt="Be helpful.",
        instructions=[
            InstructionSnapshot(kind=InstructionKind.DO, text="Low first", priority=1),
            InstructionSnapshot(kind=InstructionKind.DO, text="Top rule", priority=9),
            InstructionSnapshot(kind=InstructionKind.DO, text="Low second", priority=1),
            InstructionSnapshot(kind=InstructionKind.DONT, text="Never lie", priority=0),
            InstructionSnapshot(kind=InstructionKind.DONT, text="Never shout", priority=5),
        ],
    )
    prompt = compile_system_prompt(agent)
    assert prompt.index("Top rule") < prompt.index("Low first") < prompt.index("Low second")
    assert prompt.index("Never shout") < prompt.index("Never lie")


def test_minimal_agent_has_no_empty_sections() -> None:
    agent = AgentSnapshot(name="A", template_name="T", base_prompt="Be helpful.")
    prompt = compile_system_prompt(agent)
    for absent in ("## Goals", "## Rules", "## Knowledge", "## Greeting"):
        assert absent not in prompt
    assert "## Voice" in prompt
    assert prompt.endswith("\n") and not prompt.endswith("\n\n")
