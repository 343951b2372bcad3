"""What every client meets first: keys, body limits, the OpenAPI document, health."""

from __future__ import annotations

import httpx

SEED_ROUTES = {
    ("/api/agents", "get"),
    ("/api/agents", "post"),
    ("/api/agents/{agent_id}", "get"),
    ("/api/agents/{agent_id}", "patch"),
    ("/api/agents/{agent_id}", "delete"),
    ("/api/agents/templates", "get"),
    ("/api/agents/templates", "post"),
    ("/api/agents/{agent_id}/goals", "post"),
    ("/api/agents/{agent_id}/goals/{goal_id}", "delete"),
    ("/api/agents/{agent_id}/instructions", "post"),
    ("/api/agents/{agent_id}/instructions/{instruction_id}", "put"),
    ("/api/agents/{agent_id}/instructions/{instruction_id}", "delete"),
    ("/api/domains", "post"),
    ("/api/agents/{agent_id}/domains", "post"),
    ("/api/agents/{agent_id}/prompt", "get"),
    ("/api/agents/validate", "post"),
    ("/api/goals", "get"),
    ("/api/goals/{goal_id}", "patch"),
    ("/api/domains/{domain_id}/knowledge", "post"),
}


async def test_every_seed_route_is_in_openapi(anon_client: httpx.AsyncClient) -> None:
    spec = (await anon_client.get("/openapi.json")).json()
    present = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert SEED_ROUTES <= present, SEED_ROUTES - present
    assert (await anon_client.get("/docs")).status_code == 200


async def test_no_key_is_401(anon_client: httpx.AsyncClient) -> None:
    response = await anon_client.get("/api/agents")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_wrong_key_is_401(anon_client: httpx.AsyncClient, api_key: str) -> None:
    response = await anon_client.get("/api/agents", headers={"Authorization": "Bearer cw_nope"})
    assert response.status_code == 401
    ok = await anon_client.get("/api/agents", headers={"Authorization": f"Bearer {api_key}"})
    assert ok.status_code == 200


async def test_body_over_one_megabyte_is_413(client: httpx.AsyncClient) -> None:
    big = b'{"name": "' + b"x" * (1024 * 1024) + b'", "template_id": 1}'
    response = await client.post(
        "/api/agents", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_streamed_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # no Content-Length: the limit must hold as the body streams
        for _ in range(20):
            yield b"x" * 65536

    response = await client.post(
        "/api/agents", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_healthz_reports_each_dependency(anon_client: httpx.AsyncClient) -> None:
    response = await anon_client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["dependencies"]) == {"database", "redis", "temporal"}
    assert all(d["ok"] for d in body["dependencies"].values())
    assert "pgvector" in body["dependencies"]["database"]["detail"]
