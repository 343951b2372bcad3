"""The agents API, driven as an admin would drive it, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.conftest import EXAMPLES_DIR

EXAMPLE_FILES = sorted(EXAMPLES_DIR.glob("*.json"))


def load(path: Any) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
async def test_seed_example_posted_verbatim_round_trips(
    client: httpx.AsyncClient, path: Any
) -> None:
    document = load(path)
    created = await client.post(
        "/api/agents", content=path.read_bytes(), headers={"content-type": "application/json"}
    )
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]

    agent = (await client.get(f"/api/agents/{agent_id}")).json()
    assert agent["name"] == document["name"]
    assert agent["template_id"] == document["template_id"]
    assert [g["name"] for g in agent["goals"]] == [g["name"] for g in document["goals"]]
    for got, sent in zip(agent["goals"], document["goals"], strict=True):
        assert list(got["success_criteria"].items()) == list(sent["success_criteria"].items())
        written = [f if isinstance(f, str) else f["name"] for f in sent.get("required_data", [])]
        # A goal without required data gets one field per criterion (tested below).
        assert [f["name"] for f in got["required_data"]] == written or (
            not written and len(got["required_data"]) == len(sent["success_criteria"])
        )
    dos = [i["text"] for i in agent["instructions"] if i["kind"] == "do"]
    donts = [i["text"] for i in agent["instructions"] if i["kind"] == "dont"]
    assert dos == document["instructions"]["dos"]
    assert donts == document["instructions"]["donts"]
    assert [d["name"] for d in agent["domains"]] == [document["domain"]]
    for key, value in document["voice"].items():
        assert agent["voice"][key] == value

    prompt = (await client.get(f"/api/agents/{agent_id}/prompt")).json()["prompt"]
    for text in document["instructions"]["dos"] + document["instructions"]["donts"]:
        assert text in prompt
    assert document["domain"] in prompt


PLAN_REQUIRED_DATA = {
    "appointment_scheduler.json": [
        ("date", "date", "What day works best for you?"),
        ("time", "time", "What time would suit you?"),
        ("service", "text", "What can we help you with — which service do you need?"),
    ],
    "sales_qualifier.json": [
        ("budget", "number", "Roughly what budget do you have in mind?"),
        ("timeline", "text", "When are you hoping to have something in place?"),
        ("decision_maker", "text", "Who else is involved in making the decision?"),
    ],
}


@pytest.mark.parametrize("filename", sorted(PLAN_REQUIRED_DATA))
async def test_the_plans_documents_are_created_with_inferred_required_data(
    client: httpx.AsyncClient, filename: str
) -> None:
    path = EXAMPLES_DIR / filename
    document = load(path)
    assert "required_data" not in document["goals"][0]  # as the plan writes it
    assert isinstance(document["voice"]["pitch"], int)  # semitones: 0 and -1
    validated = await client.post(
        "/api/agents/validate",
        content=path.read_bytes(),
        headers={"content-type": "application/json"},
    )
    assert validated.json()["valid"] is True
    assert validated.json()["problems"] == []
    created = await client.post(
        "/api/agents", content=path.read_bytes(), headers={"content-type": "application/json"}
    )
    assert created.status_code == 201, created.text
    agent = (await client.get(f"/api/agents/{created.json()['id']}")).json()
    assert agent["voice"]["pitch"] == document["voice"]["pitch"]
    assert agent["voice"]["speed"] == document["voice"]["speed"]

    expected = PLAN_REQUIRED_DATA[filename]
    [goal] = agent["goals"]
    assert [(f["name"], f["type"], f["ask"]) for f in goal["required_data"]] == expected
    assert all(f["description"] for f in goal["required_data"])
    stored = (await client.get(f"/api/goals/{goal['id']}")).json()
    assert stored["required_data"] == goal["required_data"]

    prompt = (await client.get(f"/api/agents/{agent['id']}/prompt")).json()["prompt"]
    for name, field_type, ask in expected:
        assert f"- {name} ({field_type})" in prompt
        assert ask in prompt

    # Posting the same goal again shares the stored one: its inferred data says the same.
    twin = {**document, "name": f"{document['name']} (second line)"}
    assert (await client.post("/api/agents", json=twin)).status_code == 201
    assert len((await client.get("/api/goals")).json()) == 1


async def test_a_goal_created_alone_infers_its_data_too(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/goals",
        json={"name": "Call back", "success_criteria": {"has_phone": True, "has_time": False}},
    )
    assert created.status_code == 201, created.text
    assert [(f["name"], f["type"]) for f in created.json()["required_data"]] == [("phone", "phone")]


async def test_patching_criteria_infers_the_data_again_when_it_was_inferred(
    client: httpx.AsyncClient,
) -> None:
    document = load(EXAMPLES_DIR / "appointment_scheduler.json")
    agent = (await client.post("/api/agents", json=document)).json()
    [goal] = agent["goals"]
    criteria = {**goal["success_criteria"], "has_name": True, "has_time": False}

    patched = await client.patch(f"/api/goals/{goal['id']}", json={"success_criteria": criteria})
    assert patched.status_code == 200, patched.text
    fields = [(f["name"], f["type"], f["ask"]) for f in patched.json()["required_data"]]
    assert fields == [
        ("date", "date", "What day works best for you?"),
        ("service", "text", "What can we help you with — which service do you need?"),
        ("name", "text", "Can I take your name, please?"),
    ]
    stored = (await client.get(f"/api/goals/{goal['id']}")).json()
    assert stored["required_data"] == patched.json()["required_data"]
    prompt = (await client.get(f"/api/agents/{agent['id']}/prompt")).json()["prompt"]
    assert "- name (text)" in prompt and "- time (time)" not in prompt

    # Data sent with the criteria is taken as written, and from then on kept as written.
    written = await client.patch(
        f"/api/goals/{goal['id']}",
        json={"success_criteria": {"has_date": True}, "required_data": ["preferred_date"]},
    )
    assert [f["name"] for f in written.json()["required_data"]] == ["preferred_date"]
    refused = await client.patch(
        f"/api/goals/{goal['id']}", json={"success_criteria": {"has_date": True, "has_time": True}}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "success_criteria", "has_time"]
    kept = (await client.get(f"/api/goals/{goal['id']}")).json()
    assert [f["name"] for f in kept["required_data"]] == ["preferred_date"]


async def test_patching_criteria_keeps_data_an_admin_wrote(client: httpx.AsyncClient) -> None:
    # Written fields that happen to share the inferred names but not their questions.
    body = {
        "name": "Call back",
        "success_criteria": {"has_phone": True},
        "required_data": [{"name": "phone", "type": "phone", "ask": "Which number is best?"}],
    }
    goal = (await client.post("/api/goals", json=body)).json()
    refused = await client.patch(
        f"/api/goals/{goal['id']}", json={"success_criteria": {"has_phone": True, "has_time": True}}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "success_criteria", "has_time"]
    stored = (await client.get(f"/api/goals/{goal['id']}")).json()
    assert [(f["name"], f["ask"]) for f in stored["required_data"]] == [
        ("phone", "Which number is best?")
    ]


async def test_written_required_data_must_still_cover_every_criterion(
    client: httpx.AsyncClient,
) -> None:
    document = load(EXAMPLES_DIR / "appointment_scheduler.json")
    document["goals"][0]["required_data"] = ["preferred_date", "preferred_time"]
    response = await client.post("/api/agents", json=document)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "goals", "0", "success_criteria", "has_service"]


@pytest.mark.parametrize("pitch", [12.5, -13, 100])
async def test_pitch_outside_twelve_semitones_is_422_naming_voice_pitch(
    client: httpx.AsyncClient, pitch: float
) -> None:
    document = load(EXAMPLES_DIR / "sales_qualifier.json")
    document["voice"]["pitch"] = pitch
    response = await client.post("/api/agents", json=document)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "voice", "pitch"]
    assert "semitones" in problem["msg"]


async def test_both_examples_coexist_and_list(client: httpx.AsyncClient) -> None:
    for path in EXAMPLE_FILES:
        assert (await client.post("/api/agents", json=load(path))).status_code == 201
    names = [a["name"] for a in (await client.get("/api/agents")).json()]
    assert names == [load(p)["name"] for p in EXAMPLE_FILES]


async def test_duplicate_agent_name_is_409_naming_the_field(client: httpx.AsyncClient) -> None:
    document = load(EXAMPLE_FILES[0])
    assert (await client.post("/api/agents", json=document)).status_code == 201
    again = await client.post("/api/agents", json=document)
    assert again.status_code == 409
    assert again.json()["detail"][0]["loc"] == ["body", "name"]


async def test_same_goal_is_shared_but_a_different_one_under_its_name_conflicts(
    client: httpx.AsyncClient,
) -> None:
    document = load(EXAMPLE_FILES[0])
    assert (await client.post("/api/agents", json=document)).status_code == 201
    twin = {**document, "name": "Second clinic line"}
    assert (await client.post("/api/agents", json=twin)).status_code == 201
    assert len((await client.get("/api/goals")).json()) == 1

    changed_goal = {**document["goals"][0], "description": "something else"}
    clash = {**document, "name": "Third line", "goals": [changed_goal]}
    response = await client.post("/api/agents", json=clash)
    assert response.status_code == 409
    assert response.json()["detail"][0]["loc"] == ["body", "goals", "0", "name"]


async def test_schema_error_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/agents", json={"name": "x", "template_id": "one"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "template_id"]


async def test_invalid_config_is_422_with_every_problem(client: httpx.AsyncClient) -> None:
    document = {
        "name": "Broken",
        "template_id": 99,
        "voice": {"speed": 9, "pitch": 13},
        "goals": [{"name": "G", "success_criteria": {}, "required_data": ["x"]}],
    }
    response = await client.post("/api/agents", json=document)
    assert response.status_code == 422
    locs = {tuple(d["loc"]) for d in response.json()["detail"]}
    assert ("body", "template_id") in locs
    assert ("body", "voice", "speed") in locs
    assert ("body", "voice", "pitch") in locs
    assert ("body", "goals", "0", "success_criteria") in locs
    assert (await client.get("/api/agents")).json() == []


async def test_validate_reports_problems_without_storing(client: httpx.AsyncClient) -> None:
    good = await client.post("/api/agents/validate", json=load(EXAMPLE_FILES[0]))
    assert (good.json()["valid"], good.json()["problems"]) == (True, [])
    bad = await client.post(
        "/api/agents/validate",
        json={
            "name": "x",
            "template_id": 1,
            "instructions": {"dos": ["Confirm the time"], "donts": ["Don't confirm the time"]},
        },
    )
    body = bad.json()
    assert body["valid"] is False
    assert any(p["path"].startswith("instructions") for p in body["problems"])
    assert (await client.get("/api/agents")).json() == []


async def test_unknown_ids_are_404(client: httpx.AsyncClient) -> None:
    for path in (
        "/api/agents/9999",
        "/api/agents/9999/prompt",
        "/api/goals/9999",
        "/api/domains/9999",
        "/api/agents/templates/9999",
    ):
        assert (await client.get(path)).status_code == 404, path
    assert (await client.delete("/api/agents/9999/goals/1")).status_code == 404


async def test_update_agent_revalidates(client: httpx.AsyncClient) -> None:
    agent_id = (await client.post("/api/agents", json=load(EXAMPLE_FILES[0]))).json()["id"]
    ok = await client.patch(f"/api/agents/{agent_id}", json={"greeting": "Hello, clinic!"})
    assert ok.status_code == 200
    assert ok.json()["greeting"] == "Hello, clinic!"
    before = (await client.get(f"/api/agents/{agent_id}")).json()["voice"]
    bad = await client.patch(f"/api/agents/{agent_id}", json={"voice": {"speed": 5}})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "voice", "speed"]
    assert (await client.get(f"/api/agents/{agent_id}")).json()["voice"] == before


async def test_partial_voice_patch_keeps_the_other_voice_settings(
    client: httpx.AsyncClient,
) -> None:
    agent_id = (await client.post("/api/agents", json=load(EXAMPLE_FILES[0]))).json()["id"]
    before = (await client.get(f"/api/agents/{agent_id}")).json()["voice"]
    patched = await client.patch(f"/api/agents/{agent_id}", json={"voice": {"speed": 1.2}})
    assert patched.status_code == 200
    assert patched.json()["voice"] == {**before, "speed": 1.2}


async def test_patch_to_unknown_template_is_422_naming_it(client: httpx.AsyncClient) -> None:
    agent_id = (await client.post("/api/agents", json=load(EXAMPLE_FILES[0]))).json()["id"]
    response = await client.patch(f"/api/agents/{agent_id}", json={"template_id": 999})
    assert response.status_code == 422
    assert ["body", "template_id"] in [d["loc"] for d in response.json()["detail"]]
    assert (await client.get(f"/api/agents/{agent_id}")).json()["template_id"] == 1


async def test_lone_surrogate_is_a_422_not_a_crash(client: httpx.AsyncClient) -> None:
    body = b'{"name": "s", "template_id": 1, "goals": "\\ud800"}'
    response = await client.post(
        "/api/agents", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "input" not in response.json()["detail"][0]


async def test_boolean_is_not_a_template_id(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/agents", json={"name": "b", "template_id": True})
    assert response.status_code == 422


async def test_concurrent_agents_sharing_a_new_goal_and_domain_all_succeed(
    client: httpx.AsyncClient,
) -> None:
    document = load(EXAMPLE_FILES[0])
    responses = await asyncio.gather(
        *(client.post("/api/agents", json={**document, "name": f"Line {i}"}) for i in range(6))
    )
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    assert len((await client.get("/api/goals")).json()) == 1
    assert len((await client.get("/api/domains")).json()) == 1


async def test_goals_instructions_and_domains_of_an_agent(client: httpx.AsyncClient) -> None:
    agent_id = (await client.post("/api/agents", json=load(EXAMPLE_FILES[0]))).json()["id"]

    goal = {
        "name": "Take a message",
        "success_criteria": {"has_message": True},
        "required_data": ["caller_message"],
    }
    added = await client.post(f"/api/agents/{agent_id}/goals", json=goal)
    assert added.status_code == 201, added.text
    goal_id = added.json()["goals"][-1]["id"]
    assert (
        await client.post(f"/api/agents/{agent_id}/goals", json={"goal_id": goal_id})
    ).status_code == 409
    assert (await client.delete(f"/api/agents/{agent_id}/goals/{goal_id}")).status_code == 204
    assert goal_id not in [
        g["id"] for g in (await client.get(f"/api/agents/{agent_id}/goals")).json()
    ]

    created = await client.post(
        f"/api/agents/{agent_id}/instructions",
        json={"kind": "dont", "text": "Never share staff home numbers", "priority": 50},
    )
    assert created.status_code == 201
    instruction_id = created.json()["id"]
    prompt = (await client.get(f"/api/agents/{agent_id}/prompt")).json()["prompt"]
    assert "Never share staff home numbers" in prompt
    off = await client.put(
        f"/api/agents/{agent_id}/instructions/{instruction_id}", json={"active": False}
    )
    assert off.json()["active"] is False
    prompt = (await client.get(f"/api/agents/{agent_id}/prompt")).json()["prompt"]
    assert "Never share staff home numbers" not in prompt
    assert (
        await client.delete(f"/api/agents/{agent_id}/instructions/{instruction_id}")
    ).status_code == 204
    assert (
        await client.delete(f"/api/agents/{agent_id}/instructions/{instruction_id}")
    ).status_code == 404

    domain = (
        await client.post("/api/domains", json={"name": "Parking", "description": "Where to park"})
    ).json()
    linked = await client.post(f"/api/agents/{agent_id}/domains", json={"domain_id": domain["id"]})
    assert linked.status_code == 201
    assert "Parking" in [d["name"] for d in linked.json()["domains"]]
    by_name = await client.post(f"/api/agents/{agent_id}/domains", json={"name": "Insurance"})
    assert "Insurance" in [d["name"] for d in by_name.json()["domains"]]
    missing = await client.post(f"/api/agents/{agent_id}/domains", json={"domain_id": 777})
    assert missing.status_code == 404
    assert (
        await client.delete(f"/api/agents/{agent_id}/domains/{domain['id']}")
    ).status_code == 204


async def test_contradicting_instruction_is_refused(client: httpx.AsyncClient) -> None:
    agent_id = (await client.post("/api/agents", json=load(EXAMPLE_FILES[0]))).json()["id"]
    do = load(EXAMPLE_FILES[0])["instructions"]["dos"][0]
    contradiction = f"Don't {do[0].lower()}{do[1:]}"
    response = await client.post(
        f"/api/agents/{agent_id}/instructions", json={"kind": "dont", "text": contradiction}
    )
    assert response.status_code == 422
    texts = [i["text"] for i in (await client.get(f"/api/agents/{agent_id}/instructions")).json()]
    assert contradiction not in texts


async def test_delete_agent(client: httpx.AsyncClient) -> None:
    agent_id = (await client.post("/api/agents", json=load(EXAMPLE_FILES[0]))).json()["id"]
    assert (await client.delete(f"/api/agents/{agent_id}")).status_code == 204
    assert (await client.get(f"/api/agents/{agent_id}")).status_code == 404
    assert len((await client.get("/api/goals")).json()) == 1  # shared goals outlive the agent
