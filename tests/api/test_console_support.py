"""What the web console asks of the API beyond plain CRUD: the compiled prompt as the admin
types (validate), a sentence tried against the don'ts, and the console's own files."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from tests.conftest import EXAMPLES_DIR, app_client

PLAN_AGENT = json.loads((EXAMPLES_DIR / "appointment_scheduler.json").read_text())


async def test_validate_returns_the_prompt_a_call_would_get_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    draft = {**PLAN_AGENT, "name": "Front desk"}
    body = (await client.post("/api/agents/validate", json=draft)).json()
    assert body["valid"] is True, body
    prompt = body["compiled_prompt"]
    assert "Front desk" in prompt
    assert "schedule_appointment" in prompt
    assert "Don't discuss pricing" in prompt
    assert "medical_appointments" in prompt
    # Nothing was kept: no agent, no domain made for the preview.
    assert (await client.get("/api/agents")).json() == []
    assert (await client.get("/api/domains")).json() == []

    created = await client.post("/api/agents", json=draft)
    assert created.status_code == 201, created.text
    stored = (await client.get(f"/api/agents/{created.json()['id']}/prompt")).json()["prompt"]
    assert stored == prompt  # the preview is the real compiler's output

    # The same name again: creating would fail, so validating says so, on `name`.
    again = (await client.post("/api/agents/validate", json=draft)).json()
    assert again["valid"] is False
    assert again["compiled_prompt"] is None
    assert [p["path"] for p in again["problems"]] == ["name"]


async def test_an_invalid_draft_has_problems_and_no_prompt(client: httpx.AsyncClient) -> None:
    draft = {**PLAN_AGENT, "voice": {"speed": 9}}
    body = (await client.post("/api/agents/validate", json=draft)).json()
    assert body["valid"] is False
    assert body["compiled_prompt"] is None
    assert any(p["path"] == "voice.speed" for p in body["problems"]), body


async def test_a_goal_id_that_is_not_there_is_a_problem_at_its_place(
    client: httpx.AsyncClient,
) -> None:
    draft = {**PLAN_AGENT, "goals": [999_999]}
    answer = await client.post("/api/agents/validate", json=draft)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["valid"] is False and body["compiled_prompt"] is None
    assert [p["path"] for p in body["problems"]] == ["goals[0]"]
    # The request's own work is kept: the savepoint alone was rolled back.
    assert (await client.post("/api/agents", json={**PLAN_AGENT})).status_code == 201


async def test_a_sentence_is_tried_against_the_donts(client: httpx.AsyncClient) -> None:
    instructions = PLAN_AGENT["instructions"]
    priced = await client.post(
        "/api/agents/check-reply",
        json={"instructions": instructions, "text": "A cleaning costs $120 with us."},
    )
    assert priced.status_code == 200, priced.text
    verdict = priced.json()
    assert verdict["allowed"] is False
    assert [b["instruction"] for b in verdict["breaches"]] == ["Don't discuss pricing"]
    assert verdict["breaches"][0]["evidence"]

    fine = await client.post(
        "/api/agents/check-reply",
        json={"instructions": instructions, "text": "We have Tuesday at ten or Thursday at two."},
    )
    assert fine.json() == {"allowed": True, "breaches": []}

    empty = await client.post(
        "/api/agents/check-reply", json={"instructions": instructions, "text": ""}
    )
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "text"]


async def test_the_console_is_served_with_its_routes(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    built = tmp_path / "dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text("<!doctype html><title>console</title>")
    (built / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("not for the web")
    served = settings.model_copy(update={"console_dir": str(built)})
    async with app_client(served, engine) as anon:
        home = await anon.get("/")
        assert home.status_code == 307
        assert home.headers["location"] == "/console/"
        index = await anon.get("/console/")
        assert index.status_code == 200
        assert "<title>console</title>" in index.text
        assert index.headers["cache-control"] == "no-cache"
        # A console route, reloaded: the app's page, which routes itself.
        route = await anon.get("/console/agents/3/test")
        assert route.status_code == 200
        assert "<title>console</title>" in route.text
        asset = await anon.get("/console/assets/index-abc.js")
        assert asset.text == "console.log(1)"
        assert "immutable" in asset.headers["cache-control"]
        assert (await anon.get("/console/assets/gone.js")).status_code == 404
        assert (await anon.get("/console/..%2Fsecret.txt")).status_code == 404
        assert (await anon.get("/console/a%00b")).status_code == 404

    missing = settings.model_copy(update={"console_dir": str(tmp_path / "nowhere")})
    async with app_client(missing, engine) as anon:
        page = await anon.get("/console/")
        assert page.status_code == 503
        assert "make install" in page.text
