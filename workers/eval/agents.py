"""An agent document (`examples/<agent>.json`) as a snapshot, with no database behind it.

The same picture `AgentBuilder.snapshot` makes from stored rows: the template's name and base
prompt (the starter templates, by `template_id`), goals inline, instructions dos then don'ts with
the first of each list highest, the domain by name. Goals or domains given only by id need a
database and are refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.agents.builder import instruction_snapshots
from core.agents.snapshot import AgentSnapshot, DomainSnapshot
from core.agents.spec import AgentSpec, GoalSpec, InstructionKind, VoiceSpec
from core.agents.templates import STARTER_TEMPLATES

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


class AgentDocumentError(Exception):
    """An agent document that cannot be read, parsed or run without a database."""


def agent_path(agent: str) -> Path:
    """Where the agent named `agent` lives: `examples/<agent>.json`."""
    return EXAMPLES_DIR / f"{agent}.json"


def load_agent(path: Path) -> AgentSnapshot:
    """The snapshot of the agent document at `path`."""
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise AgentDocumentError(f"{path}: {exc}") from exc
    if not isinstance(document, dict):
        raise AgentDocumentError(f"{path}: an agent document is a JSON object")
    try:
        return snapshot_from_document(document)
    except AgentDocumentError as exc:
        raise AgentDocumentError(f"{path}: {exc}") from exc


def snapshot_from_document(document: Mapping[str, Any]) -> AgentSnapshot:
    """The snapshot of an agent document (`POST /api/agents`'s body)."""
    try:
        spec = AgentSpec.model_validate(document)
    except ValidationError as exc:
        raise AgentDocumentError(f"not a valid agent document: {exc}") from exc
    template = next((t for t in STARTER_TEMPLATES if t.id == spec.template_id), None)
    if template is None:
        known = ", ".join(str(t.id) for t in STARTER_TEMPLATES)
        raise AgentDocumentError(f"template_id {spec.template_id} is not a starter ({known})")
    goals = [goal for goal in spec.goals if isinstance(goal, GoalSpec)]
    if len(goals) != len(spec.goals):
        raise AgentDocumentError("goals given by id need a database; write them inline")
    if spec.domain_ids:
        raise AgentDocumentError("domain_ids need a database; name the domain instead")
    voice = VoiceSpec.model_validate(
        {
            **template.default_voice,
            **(spec.voice.model_dump(exclude_unset=True) if spec.voice else {}),
        }
    )
    return AgentSnapshot(
        name=spec.name,
        description=spec.description,
        template_name=template.name,
        base_prompt=spec.base_prompt or template.base_prompt,
        greeting=spec.greeting,
        goals=goals,
        instructions=[
            *instruction_snapshots(spec.instructions.dos, InstructionKind.DO),
            *instruction_snapshots(spec.instructions.donts, InstructionKind.DONT),
        ],
        domains=[DomainSnapshot(name=spec.domain)] if spec.domain else [],
        voice=voice,
    )
