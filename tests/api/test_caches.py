"""The compiled-agent cache in Redis: a change to anything an agent is made of reaches the next
call's prompt, and with Redis stopped the API goes on (one log line says the cache is off)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cache import Cache
from core.db.models import Domain, Organization
from core.db.session import make_sessionmaker
from core.knowledge import KnowledgeBase
from core.organizations import default_organization
from core.settings import Settings
from tests.conftest import app_client
from workers.services.base import find_free_port
from workers.services.redis import EmbeddedRedis

AGENT = {
    "name": "Front desk",
    "template_id": 1,
    "goals": [{"name": "book", "success_criteria": {"has_date": True, "has_time": True}}],
    "instructions": {"dos": ["Be brief"], "donts": ["Don't discuss pricing"]},
}


async def prompt(client: httpx.AsyncClient, agent_id: int) -> str:
    response = await client.get(f"/api/agents/{agent_id}/prompt")
    assert response.status_code == 200, response.text
    return str(response.json()["prompt"])


async def versions(engine: AsyncEngine) -> tuple[int, dict[int, int]]:
    async with make_sessionmaker(engine)() as session:
        organization = await default_organization(session)
        config = await session.scalar(
            select(Organization.config_version).where(Organization.id == organization.id)
        )
        domains = dict((await session.execute(select(Domain.id, Domain.knowledge_version))).all())
        return int(config or 0), {int(k): int(v) for k, v in domains.items()}


async def test_an_instruction_change_reaches_the_next_prompt_through_the_cache(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/api/agents", json=AGENT)
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    cache: Cache = client._transport.app.state.cache  # type: ignore[attr-defined]

    first = await prompt(client, agent_id)
    hits = cache.hits
    assert await prompt(client, agent_id) == first
    assert cache.hits == hits + 1  # nothing changed: served from Redis

    added = await client.post(
        f"/api/agents/{agent_id}/instructions",
        json={"kind": "dont", "text": "Never share staff home numbers"},
    )
    assert added.status_code == 201, added.text
    assert "Never share staff home numbers" in await prompt(client, agent_id)

    instruction_id = added.json()["id"]
    changed = await client.put(
        f"/api/agents/{agent_id}/instructions/{instruction_id}",
        json={"kind": "dont", "text": "Never share anyone's home number"},
    )
    assert changed.status_code == 200, changed.text
    now = await prompt(client, agent_id)
    assert "Never share anyone's home number" in now
    assert "Never share staff home numbers" not in now


async def test_a_change_to_a_goal_or_domain_the_agent_uses_reaches_its_prompt(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    domain = (
        await client.post("/api/domains", json={"name": "clinic", "description": "A clinic."})
    ).json()
    created = await client.post("/api/agents", json={**AGENT, "domain": "clinic"})
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    assert "A clinic." in await prompt(client, agent_id)

    await client.patch(f"/api/domains/{domain['id']}", json={"description": "A dental clinic."})
    assert "A dental clinic." in await prompt(client, agent_id)

    goal = next(g for g in (await client.get("/api/goals")).json() if g["name"] == "book")
    patched = await client.patch(
        f"/api/goals/{goal['id']}", json={"description": "Book the caller's visit"}
    )
    assert patched.status_code == 200, patched.text
    assert "Book the caller's visit" in await prompt(client, agent_id)

    item = await client.post(
        f"/api/domains/{domain['id']}/knowledge",
        json={"title": "Parking behind the building", "content": "Twelve free bays."},
    )
    assert item.status_code == 201, item.text
    assert "Parking behind the building" in await prompt(client, agent_id)


async def test_postgres_moves_the_versions_on_every_writer_and_only_where_it_should(
    engine: AsyncEngine,
) -> None:
    async with make_sessionmaker(engine)() as session:
        organization = await default_organization(session)
        domain = Domain(organization_id=organization.id, name="d")
        session.add(domain)
        await session.commit()
        domain_id = domain.id
    config, knowledge = await versions(engine)

    async with make_sessionmaker(engine)() as session:
        knowledge_base = KnowledgeBase(session)
        await knowledge_base.add_knowledge(domain_id, "One fact.\n\nAnother fact.")
    config_after_import, knowledge_after_import = await versions(engine)
    assert knowledge_after_import[domain_id] == knowledge[domain_id] + 1  # once per statement
    assert config_after_import == config  # the items moved the domain, not the organization

    async with make_sessionmaker(engine)() as session:
        await session.execute(
            text("UPDATE domains SET description = 'from psql' WHERE id = :id"), {"id": domain_id}
        )
        await session.commit()
    config_after_edit, _ = await versions(engine)
    assert config_after_edit == config + 1


async def test_with_redis_stopped_the_api_works_and_says_once_that_the_cache_is_off(
    settings: Settings,
    engine: AsyncEngine,
    api_key: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis = EmbeddedRedis(tmp_path / "redis", find_free_port())
    redis.start()
    own: dict[str, Any] = {"REDIS_URL": redis.url}
    alone = Settings.model_validate({**settings.model_dump(by_alias=True), **own})
    try:
        async with app_client(alone, engine, api_key) as client:
            created = await client.post("/api/agents", json=AGENT)
            agent_id = created.json()["id"]
            await prompt(client, agent_id)
            redis.stop()
            with caplog.at_level(logging.INFO, logger="core.cache"):
                for _ in range(3):
                    assert "Don't discuss pricing" in await prompt(client, agent_id)
                added = await client.post(
                    f"/api/agents/{agent_id}/instructions",
                    json={"kind": "do", "text": "Spell names back"},
                )
                assert added.status_code == 201
                assert "Spell names back" in await prompt(client, agent_id)
            off = [r for r in caplog.records if "cache off" in r.getMessage()]
            assert len(off) == 1, [r.getMessage() for r in caplog.records]
    finally:
        redis.stop()
