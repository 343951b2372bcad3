"""An agent document as a snapshot with no database, as AgentBuilder would store it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.agents.spec import InstructionKind
from core.agents.templates import SALES_QUALIFIER
from workers.eval.agents import AgentDocumentError, load_agent, snapshot_from_document

DOCUMENT = {
    "name": "Qualifier",
    "template_id": 2,
    "greeting": "Hi there!",
    "goals": [
        {
            "name": "qualify",
            "success_criteria": {"has_budget": True},
            "required_data": [{"name": "budget", "type": "number"}],
        }
    ],
    "instructions": {"dos": ["Be brief", "Be kind"], "donts": ["Don't quote prices"]},
    "domain": "SaaS Product",
    "voice": {"speed": 1.1},
}


def test_a_document_becomes_a_snapshot_with_its_template_and_instructions() -> None:
    agent = snapshot_from_document(DOCUMENT)
    assert (agent.name, agent.greeting) == ("Qualifier", "Hi there!")
    assert agent.template_name == SALES_QUALIFIER.name
    assert agent.base_prompt == SALES_QUALIFIER.base_prompt
    assert [g.name for g in agent.goals] == ["qualify"]
    assert [(i.kind, i.text, i.priority) for i in agent.instructions] == [
        (InstructionKind.DO, "Be brief", 2),
        (InstructionKind.DO, "Be kind", 1),
        (InstructionKind.DONT, "Don't quote prices", 1),
    ]
    assert [d.name for d in agent.domains] == ["SaaS Product"]
    assert agent.voice.speed == 1.1


def test_a_document_s_own_base_prompt_wins() -> None:
    agent = snapshot_from_document({**DOCUMENT, "base_prompt": "Sell kindly."})
    assert agent.base_prompt == "Sell kindly."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"template_id": 9}, "not a starter"),
        ({"goals": [3]}, "goals given by id"),
        ({"domain_ids": [1]}, "domain_ids"),
        ({"name": ""}, "not a valid agent document"),
    ],
)
def test_documents_that_need_a_database_or_are_invalid_are_refused(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(AgentDocumentError, match=message):
        snapshot_from_document({**DOCUMENT, **change})


def test_a_file_that_is_not_json_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text("{nope")
    with pytest.raises(AgentDocumentError, match="agent.json"):
        load_agent(path)
