"""Compiling an agent's configuration into the system prompt its brain runs with.

The output is plain text a person can read and check: short `## Section` headings, the base
prompt first, then goals, rules, knowledge, voice and the greeting. It is deterministic (the same
snapshot always gives the same bytes) because the realtime plane caches it and the LLM's prompt
prefix cache only hits on identical text.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.agents.snapshot import AgentSnapshot, DomainSnapshot
from core.agents.spec import GoalSpec, VoiceSpec
from core.fields import DataField
from core.goals.criteria import criterion_subject, fields_for_criterion
from core.instructions.engine import format_for_prompt

# A domain may hold thousands of items; the prompt names enough for the model to know what it can
# look up, and the knowledge search supplies the rest at call time.
MAX_ITEM_TITLES = 40

PHONE_STYLE = """\
You are on a live phone call; the caller only hears you.
- Keep replies short: one or two spoken sentences.
- Ask one question at a time, then wait for the answer.
- No lists, markdown, emoji or links; say numbers, dates and times as people say them.
- Read important details back to the caller and ask them to confirm.
- If you do not know something, say so; never make it up."""


def compile_system_prompt(agent: AgentSnapshot) -> str:
    """The agent's full system prompt, deterministic for a given snapshot."""
    sections: list[tuple[str, str]] = [("Role", _role(agent))]
    if agent.goals:
        sections.append(("Goals", _goals(agent.goals)))
    rules = format_for_prompt(agent.instructions)
    if rules:
        sections.append(("Rules", rules))
    if agent.domains:
        sections.append(("Knowledge", _knowledge(agent.domains)))
    sections.append(("Voice", _voice(agent.voice)))
    sections.append(("Phone style", PHONE_STYLE))
    if agent.greeting and agent.greeting.strip():
        sections.append(("Greeting", f'Open the call by saying: "{agent.greeting.strip()}"'))
    return "\n\n".join(f"## {title}\n{body.strip()}" for title, body in sections) + "\n"


def _role(agent: AgentSnapshot) -> str:
    lines = [f"Agent: {agent.name}"]
    if agent.template_name and agent.template_name != agent.name:
        lines[0] += f" (built on the {agent.template_name} template)"
    if agent.description.strip():
        lines.append(agent.description.strip())
    if agent.base_prompt.strip():
        lines.append("")
        lines.append(agent.base_prompt.strip())
    return "\n".join(lines)


def _goals(goals: Iterable[GoalSpec]) -> str:
    blocks = []
    for number, goal in enumerate(goals, start=1):
        lines = [f"Goal {number}: {goal.name}"]
        if goal.description.strip():
            lines.append(goal.description.strip())
        if goal.required_data:
            lines.append("Collect from the caller, one at a time:")
            lines.extend(f"- {_describe_field(field)}" for field in goal.required_data)
        success = _success_in_words(goal)
        if success:
            lines.append(f"The goal is met when {success}.")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _describe_field(field: DataField) -> str:
    kind = field.type.value
    if field.options:
        kind += ": one of " + ", ".join(field.options)
    described = f"{field.name} ({kind})"
    if field.description and field.description != field.name.replace("_", " "):
        described += f": {field.description}"
    if field.ask and field.ask.strip():
        described += f'; ask it as "{field.ask.strip()}"'
    return described


def _success_in_words(goal: GoalSpec) -> str:
    field_names = [field.name for field in goal.required_data]
    clauses = []
    for name, value in goal.success_criteria.items():
        if value is False:
            continue  # switched off: always met, so not part of what success means
        fields = fields_for_criterion(name, value, field_names)
        subject = criterion_subject(name).replace("_", " ")
        if value is True and fields:
            clauses.append(f"the {subject} is known ({', '.join(fields)})")
        elif isinstance(value, bool):
            clauses.append(f"{name.replace('_', ' ')} is true")
        elif isinstance(value, str):
            clauses.append(f"{name.replace('_', ' ')} is captured ({', '.join(fields) or value})")
        else:
            clauses.append(f"{name.replace('_', ' ')} is {value}")
    return _join_words(clauses)


def _join_words(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _knowledge(domains: Iterable[DomainSnapshot]) -> str:
    blocks = []
    for domain in domains:
        lines = [f"Domain: {domain.name}"]
        if domain.description.strip():
            lines.append(domain.description.strip())
        titles = [title.strip() for title in domain.item_titles if title.strip()]
        if titles:
            shown = titles[:MAX_ITEM_TITLES]
            lines.append("You have information on: " + "; ".join(shown) + ".")
            if len(titles) > len(shown):
                lines.append(f"(and {len(titles) - len(shown)} more topics)")
        blocks.append("\n".join(lines))
    blocks.append("Answer from this knowledge only; if it does not cover a question, say so.")
    return "\n\n".join(blocks)


def _voice(voice: VoiceSpec) -> str:
    lines = [
        f"Default tone: {voice.emotion_default}. Let your wording sound {voice.emotion_default}."
    ]
    if voice.speed > 1.0:
        lines.append("You speak a little briskly; keep sentences especially short.")
    elif voice.speed < 1.0:
        lines.append("You speak slowly and deliberately.")
    return "\n".join(lines)
