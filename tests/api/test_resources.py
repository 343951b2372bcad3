"""Templates, goals, domains and knowledge items through the API."""

from __future__ import annotations

import httpx


async def test_starter_templates_are_in_every_fresh_database(client: httpx.AsyncClient) -> None:
    templates = (await client.get("/api/agents/templates")).json()
    by_id = {t["id"]: t for t in templates}
    assert "Appointment" in by_id[1]["name"]
    assert "Sales" in by_id[2]["name"]
    for template in templates:
        assert len(template["base_prompt"]) > 200
        assert set(template["default_voice"]) >= {"emotion_default", "speed", "pitch"}


async def test_template_crud(client: httpx.AsyncClient) -> None:
    body = {"name": "Survey taker", "base_prompt": "You run short phone surveys."}
    created = await client.post("/api/agents/templates", json=body)
    assert created.status_code == 201
    template_id = created.json()["id"]
    assert template_id > 2
    assert (await client.post("/api/agents/templates", json=body)).status_code == 409
    patched = await client.patch(
        f"/api/agents/templates/{template_id}", json={"description": "NPS"}
    )
    assert patched.json()["description"] == "NPS"
    assert (await client.delete(f"/api/agents/templates/{template_id}")).status_code == 204
    assert (await client.get(f"/api/agents/templates/{template_id}")).status_code == 404


async def test_template_in_use_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    body = {"name": "Front desk", "base_prompt": "You answer the phone."}
    template_id = (await client.post("/api/agents/templates", json=body)).json()["id"]
    await client.post("/api/agents", json={"name": "Uses one", "template_id": template_id})
    response = await client.delete(f"/api/agents/templates/{template_id}")
    assert response.status_code == 409


async def test_starter_templates_are_shared_and_read_only(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/agents/templates/1")).status_code == 200
    deleted = await client.delete("/api/agents/templates/1")
    assert deleted.status_code == 403 and "starter" in deleted.json()["detail"]
    patched = await client.patch("/api/agents/templates/1", json={"description": "mine"})
    assert patched.status_code == 403
    taken = await client.post(
        "/api/agents/templates", json={"name": "Appointment Scheduler", "base_prompt": "x"}
    )
    assert taken.status_code == 409


async def test_goal_crud_and_validation(client: httpx.AsyncClient) -> None:
    body = {
        "name": "Book table",
        "success_criteria": {"has_date": True, "party_size_identified": True},
        "required_data": ["reservation_date", {"name": "party_size", "type": "number"}],
    }
    created = await client.post("/api/goals", json=body)
    assert created.status_code == 201
    goal = created.json()
    assert goal["required_data"][0] == {
        "name": "reservation_date",
        "type": "date",
        "description": "reservation date",
        "options": [],
        "ask": None,
    }
    assert (await client.post("/api/goals", json=body)).status_code == 409
    bad = await client.post("/api/goals", json={**body, "name": "x", "required_data": ["Bad Name"]})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][:3] == ["body", "required_data", 0]
    patched = await client.patch(
        f"/api/goals/{goal['id']}", json={"description": "Dinner bookings"}
    )
    assert patched.json()["description"] == "Dinner bookings"
    assert patched.json()["success_criteria"] == body["success_criteria"]
    assert (await client.delete(f"/api/goals/{goal['id']}")).status_code == 204


async def test_domain_and_knowledge_items(client: httpx.AsyncClient) -> None:
    domain = (
        await client.post("/api/domains", json={"name": "Dental", "description": "Clinic"})
    ).json()
    assert (await client.post("/api/domains", json={"name": "Dental"})).status_code == 409
    item = await client.post(
        f"/api/domains/{domain['id']}/knowledge",
        json={"title": "Opening hours", "content": "Mon-Fri 8am to 6pm"},
    )
    assert item.status_code == 201
    assert item.json()["embedded"] is False
    item_id = item.json()["id"]
    items = (await client.get(f"/api/domains/{domain['id']}/knowledge")).json()
    assert [i["title"] for i in items] == ["Opening hours"]
    patched = await client.patch(
        f"/api/domains/{domain['id']}/knowledge/{item_id}", json={"content": "Mon-Sat 8am to 6pm"}
    )
    assert patched.json()["content"] == "Mon-Sat 8am to 6pm"
    assert (
        await client.get(f"/api/domains/{domain['id'] + 1}/knowledge/{item_id}")
    ).status_code == 404
    assert (
        await client.delete(f"/api/domains/{domain['id']}/knowledge/{item_id}")
    ).status_code == 204
    assert (await client.delete(f"/api/domains/{domain['id']}")).status_code == 204


async def test_knowledge_titles_reach_the_prompt(client: httpx.AsyncClient) -> None:
    agent = (
        await client.post(
            "/api/agents", json={"name": "K", "template_id": 1, "domain": "Vet clinic"}
        )
    ).json()
    domain_id = agent["domains"][0]["id"]
    await client.post(
        f"/api/domains/{domain_id}/knowledge",
        json={"title": "Vaccination schedule", "content": "…"},
    )
    prompt = (await client.get(f"/api/agents/{agent['id']}/prompt")).json()["prompt"]
    assert "Vet clinic" in prompt
    assert "Vaccination schedule" in prompt


async def test_goal_checks_apply_to_shared_goals(client: httpx.AsyncClient) -> None:
    no_criteria = {"name": "Vague", "success_criteria": {}, "required_data": ["x"]}
    response = await client.post("/api/goals", json=no_criteria)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "success_criteria"]
    unmapped = {"name": "Odd", "success_criteria": {"has_color": True}, "required_data": ["size"]}
    response = await client.post("/api/goals", json=unmapped)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "success_criteria", "has_color"]

    good = {"name": "Size", "success_criteria": {"has_size": True}, "required_data": ["size"]}
    goal_id = (await client.post("/api/goals", json=good)).json()["id"]
    emptied = await client.patch(f"/api/goals/{goal_id}", json={"success_criteria": {}})
    assert emptied.status_code == 422
    assert (await client.get(f"/api/goals/{goal_id}")).json()["success_criteria"] == {
        "has_size": True
    }


async def test_template_voice_passes_the_agent_voice_rules(client: httpx.AsyncClient) -> None:
    body = {
        "name": "Loud",
        "base_prompt": "p",
        "default_voice": {"speed": 5, "emotion_default": "grumpy"},
    }
    response = await client.post("/api/agents/templates", json=body)
    assert response.status_code == 422
    locs = [d["loc"] for d in response.json()["detail"]]
    assert ["body", "default_voice", "speed"] in locs
    assert ["body", "default_voice", "emotion_default"] in locs
    own = {"name": "Quiet", "base_prompt": "p", "default_voice": {"speed": 1.0}}
    template_id = (await client.post("/api/agents/templates", json=own)).json()["id"]
    url = f"/api/agents/templates/{template_id}"
    patched = await client.patch(url, json={"default_voice": {"pitch": 13}})
    assert patched.status_code == 422
    kept = await client.patch(url, json={"default_voice": {"speed": 1.1}})
    assert kept.status_code == 200
    assert kept.json()["default_voice"]["speed"] == 1.1
    assert kept.json()["default_voice"]["emotion_default"]  # the rest of the voice is kept
