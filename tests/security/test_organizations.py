"""Organizations, scoped keys, expiry, rate limits, toll-fraud limits and the audit log.

Two organizations share one API: whatever one creates, the other cannot see, change or delete
(its ids answer 404, exactly as unknown ones); each key may do only what its scopes allow.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.auth import Scope, create_api_key
from core.db.models import ApiKey, Call, WebhookDelivery
from core.db.session import make_sessionmaker
from core.organizations import ensure_organization
from core.settings import Settings
from tests.conftest import EXAMPLES_DIR, add_call, app_client


async def key_for(
    engine: AsyncEngine,
    organization: str,
    *scopes: Scope,
    name: str | None = None,
    expires_at: datetime | None = None,
) -> str:
    async with make_sessionmaker(engine)() as session:
        org = await ensure_organization(session, organization)
        return await create_api_key(
            session,
            name=name or f"{organization}-{'-'.join(scopes) or 'admin'}-{uuid.uuid4().hex[:6]}",
            organization_id=org.id,
            scopes=scopes or (Scope.ADMIN,),
            expires_at=expires_at,
        )


@pytest.fixture
async def api(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A client carrying no key: each request names its own."""
    async with app_client(settings, engine) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def build_everything(api: httpx.AsyncClient, key: str) -> dict[str, str]:
    """One of every resource an organization can own; their URLs by kind."""
    h = bearer(key)
    document = json.loads((EXAMPLES_DIR / "dental_clinic.json").read_text())
    agent = (await api.post("/api/agents", json=document, headers=h)).json()
    goal_id = agent["goals"][0]["id"]
    instruction_id = agent["instructions"][0]["id"]
    template = (
        await api.post("/api/agents/templates", json={"name": "Own", "base_prompt": "p"}, headers=h)
    ).json()
    domain = (await api.post("/api/domains", json={"name": "Clinic facts"}, headers=h)).json()
    item = (
        await api.post(
            f"/api/domains/{domain['id']}/knowledge",
            json={"title": "Parking", "content": "Free parking behind the building."},
            headers=h,
        )
    ).json()
    return {
        "agent": f"/api/agents/{agent['id']}",
        "goal": f"/api/goals/{goal_id}",
        "instructions": f"/api/agents/{agent['id']}/instructions",
        "instruction": f"/api/agents/{agent['id']}/instructions/{instruction_id}",
        "template": f"/api/agents/templates/{template['id']}",
        "domain": f"/api/domains/{domain['id']}",
        "item": f"/api/domains/{domain['id']}/knowledge/{item['id']}",
        "agent goals": f"/api/agents/{agent['id']}/goals",
        "agent prompt": f"/api/agents/{agent['id']}/prompt",
    }


async def add_call_with_delivery(engine: AsyncEngine) -> tuple[Call, WebhookDelivery]:
    """A call of the default organization, and a webhook delivery about it."""
    call = await add_call(engine)
    async with make_sessionmaker(engine)() as session:
        delivery = WebhookDelivery(
            webhook_id=f"msg_{uuid.uuid4().hex}",
            event_type="call.completed",
            url="https://example.com/hook",
            payload={"type": "call.completed"},
            status="failed",
            call_id=call.id,
        )
        session.add(delivery)
        await session.commit()
        return call, delivery


async def test_another_organization_sees_none_of_it(
    api: httpx.AsyncClient, engine: AsyncEngine, api_key: str
) -> None:
    mine = await build_everything(api, api_key)
    call, delivery = await add_call_with_delivery(engine)
    mine["call"] = f"/api/calls/{call.call_sid}"
    mine["call by id"] = f"/api/calls/{call.id}"
    mine["delivery"] = f"/api/webhooks/deliveries/{delivery.id}"
    instruction = mine.pop("instruction")  # no GET: changed with PUT
    for kind, url in mine.items():
        assert (await api.get(url, headers=bearer(api_key))).status_code == 200, kind

    theirs = bearer(await key_for(engine, "Other Clinic"))
    for kind, url in mine.items():
        response = await api.get(url, headers=theirs)
        assert response.status_code == 404, (kind, response.text)
    put = await api.put(instruction, json={"active": False}, headers=theirs)
    assert put.status_code == 404
    assert (await api.delete(instruction, headers=theirs)).status_code == 404
    for kind in ("agent", "goal", "template", "domain", "item"):
        patched = await api.patch(mine[kind], json={"description": "x"}, headers=theirs)
        assert patched.status_code in (404, 422), (kind, patched.text)
        assert patched.status_code != 200
        deleted = await api.delete(mine[kind], headers=theirs)
        assert deleted.status_code == 404, (kind, deleted.text)
    ended = await api.post(f"{mine['call']}/end", headers=theirs)
    assert ended.status_code == 404
    replayed = await api.post(f"{mine['delivery']}/replay", headers=theirs)
    assert replayed.status_code == 404
    for listing in ("/api/agents", "/api/goals", "/api/domains", "/api/calls"):
        assert (await api.get(listing, headers=theirs)).json() == [], listing
    assert (await api.get("/api/webhooks/deliveries", headers=theirs)).json() == []
    templates = (await api.get("/api/agents/templates", headers=theirs)).json()
    assert all(t["name"] != "Own" for t in templates)
    assert {t["id"] for t in templates} >= {1, 2}  # the starter templates are shared

    # Their names are their own: the same agent document builds in the other organization.
    document = json.loads((EXAMPLES_DIR / "dental_clinic.json").read_text())
    document.pop("phone_numbers", None)  # numbers route calls: unique across organizations
    built = await api.post("/api/agents", json=document, headers=theirs)
    assert built.status_code == 201, built.text
    # …and it cannot borrow another organization's goal or domain by id.
    goal_id = int(mine["goal"].rsplit("/", 1)[1])
    borrowed = await api.post(
        f"/api/agents/{built.json()['id']}/goals", json={"goal_id": goal_id}, headers=theirs
    )
    assert borrowed.status_code == 404
    domain_id = int(mine["domain"].rsplit("/", 1)[1])
    linked = await api.post(
        f"/api/agents/{built.json()['id']}/domains", json={"domain_id": domain_id}, headers=theirs
    )
    assert linked.status_code == 404
    # The mine still stand.
    for kind, url in mine.items():
        assert (await api.get(url, headers=bearer(api_key))).status_code == 200, kind


async def test_scopes_limit_what_a_key_may_do(
    api: httpx.AsyncClient, engine: AsyncEngine, api_key: str
) -> None:
    document: dict[str, Any] = {"name": "Front desk", "template_id": 1}
    reader = bearer(await key_for(engine, "default", Scope.READ))
    builder = bearer(await key_for(engine, "default", Scope.AGENTS_WRITE))
    caller = bearer(await key_for(engine, "default", Scope.CALLS_WRITE))

    refused = await api.post("/api/agents", json=document, headers=reader)
    assert refused.status_code == 403 and "agents:write" in refused.json()["detail"]
    created = await api.post("/api/agents", json=document, headers=builder)
    assert created.status_code == 201
    assert (await api.get("/api/agents", headers=reader)).status_code == 200
    assert (await api.get("/api/agents", headers=builder)).status_code == 200
    assert (await api.get("/api/agents", headers=caller)).status_code == 403  # no read scope

    to_call = {"agent_id": created.json()["id"], "to": "+14155550123"}
    assert (await api.post("/api/calls", json=to_call, headers=builder)).status_code == 403
    assert (await api.get("/api/calls", headers=caller)).status_code == 200
    assert (await api.post("/api/goals", json={"name": "g"}, headers=caller)).status_code == 403

    for admin_only in ("/api/keys", "/api/audit"):
        for headers in (reader, builder, caller):
            assert (await api.get(admin_only, headers=headers)).status_code == 403
        assert (await api.get(admin_only, headers=bearer(api_key))).status_code == 200
    patched = await api.patch("/api/organization", json={"calls_per_hour": 1000}, headers=builder)
    assert patched.status_code == 403
    assert (await api.get("/api/organization", headers=reader)).status_code == 200


async def test_keys_made_through_the_api_expire_and_revoke(
    api: httpx.AsyncClient, engine: AsyncEngine, api_key: str
) -> None:
    admin = bearer(api_key)
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    made = await api.post(
        "/api/keys", json={"name": "crm", "scopes": ["read"], "expires_at": soon}, headers=admin
    )
    assert made.status_code == 201, made.text
    crm = made.json()
    assert crm["scopes"] == ["read"] and crm["key"].startswith("cw_")
    listed = (await api.get("/api/keys", headers=admin)).json()
    assert all("key" not in k for k in listed) and crm["id"] in {k["id"] for k in listed}
    assert (await api.get("/api/agents", headers=bearer(crm["key"]))).status_code == 200

    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    refused = await api.post(
        "/api/keys", json={"name": "old", "scopes": ["read"], "expires_at": past}, headers=admin
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][-1] == "expires_at"

    # Expiry: the same key, its time run out.
    async with make_sessionmaker(engine)() as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == crm["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    assert (await api.get("/api/agents", headers=bearer(crm["key"]))).status_code == 401

    fresh = (
        await api.post("/api/keys", json={"name": "ci", "scopes": ["admin"]}, headers=admin)
    ).json()
    assert (await api.delete(f"/api/keys/{fresh['id']}", headers=admin)).status_code == 204
    assert (await api.get("/api/agents", headers=bearer(fresh["key"]))).status_code == 401

    # Another organization's admin cannot see or revoke this organization's keys.
    theirs = bearer(await key_for(engine, "Other Clinic"))
    assert (await api.delete(f"/api/keys/{crm['id']}", headers=theirs)).status_code == 404
    assert crm["id"] not in {k["id"] for k in (await api.get("/api/keys", headers=theirs)).json()}


async def test_each_key_is_rate_limited_with_retry_after(
    api: httpx.AsyncClient, engine: AsyncEngine, api_key: str
) -> None:
    admin = bearer(api_key)
    limited = await api.patch("/api/organization", json={"rate_limit_per_minute": 3}, headers=admin)
    assert limited.status_code == 200
    other = bearer(await key_for(engine, "default", Scope.READ))
    answers = [(await api.get("/api/agents", headers=other)).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    last = await api.get("/api/agents", headers=other)
    assert last.status_code == 429 and 1 <= int(last.headers["Retry-After"]) <= 60
    # Another organization's keys have their own limits.
    elsewhere = bearer(await key_for(engine, "Other Clinic", Scope.READ))
    assert (await api.get("/api/agents", headers=elsewhere)).status_code == 200


async def test_outbound_calls_obey_prefixes_and_the_hourly_quota(
    api: httpx.AsyncClient, api_key: str
) -> None:
    admin = bearer(api_key)
    agent = (
        await api.post("/api/agents", json={"name": "Dialer", "template_id": 1}, headers=admin)
    ).json()
    call = {"agent_id": agent["id"], "to": "+882355512345"}  # an international premium range

    refused = await api.post("/api/calls", json=call, headers=admin)
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "to"]

    await api.patch(
        "/api/organization",
        json={"allowed_call_prefixes": ["+1"], "calls_per_hour": 2},
        headers=admin,
    )
    assert (await api.post("/api/calls", json=call, headers=admin)).status_code == 403
    domestic = {**call, "to": "+14155550123"}
    # Past the checks, this deployment has no Twilio account: 409 says so.
    answers = [
        (await api.post("/api/calls", json=domestic, headers=admin)).status_code for _ in range(3)
    ]
    assert answers == [409, 409, 429]


async def test_every_change_is_in_the_audit_log(
    api: httpx.AsyncClient, engine: AsyncEngine, api_key: str
) -> None:
    admin = bearer(api_key)
    reader_key = await key_for(engine, "default", Scope.READ, name="dashboard")
    created = await api.post("/api/domains", json={"name": "Facts"}, headers=admin)
    domain_url = f"/api/domains/{created.json()['id']}"
    await api.patch(domain_url, json={"description": "d"}, headers=admin)
    denied = await api.delete(domain_url, headers=bearer(reader_key))
    assert denied.status_code == 403
    await api.delete(domain_url, headers=admin)
    await api.get("/api/domains", headers=admin)  # reads are not changes

    events = (await api.get("/api/audit", headers=admin)).json()
    seen = [(e["key_name"], e["method"], e["path"], e["status_code"]) for e in events]
    assert seen[:4] == [
        ("tests", "DELETE", domain_url, 204),
        ("dashboard", "DELETE", domain_url, 403),
        ("tests", "PATCH", domain_url, 200),
        ("tests", "POST", "/api/domains", 201),
    ]
    assert all(e["method"] != "GET" for e in events)
    page = (
        await api.get("/api/audit", params={"before_id": events[1]["id"]}, headers=admin)
    ).json()
    assert page[0]["id"] == events[2]["id"]
    theirs = bearer(await key_for(engine, "Other Clinic"))
    assert (await api.get("/api/audit", headers=theirs)).json() == []
