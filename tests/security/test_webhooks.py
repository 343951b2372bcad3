"""Webhooks like Svix (issue 10, point 3): destinations checked when written and again when the
worker connects (no SSRF to loopback, private, link-local or metadata addresses, nor through a
name that resolves there), no redirects, answers read to a few KiB and never kept, per-endpoint
secrets rotated with overlapping signatures, strict secret format."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.webhooks import WebhookActivities
from core.auth import Scope, create_api_key
from core.calls.activities import DeliveryRecord
from core.calls.types import DeliveryInput, WebhookEvent
from core.db.models import Call, Organization, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from core.db.session import make_sessionmaker
from core.organizations import default_organization, ensure_organization
from core.settings import Settings
from core.webhooks import destinations
from core.webhooks.destinations import DestinationRefused, check_destination, webhook_client
from core.webhooks.endpoints import ensure_endpoint
from core.webhooks.signing import InvalidSecret, check_secret
from tests.conftest import EXAMPLES_DIR, app_client
from tests.webhook_receiver import Receiver, run_receiver

GOAL = json.loads((EXAMPLES_DIR / "dental_clinic.json").read_text())["goals"][0]
SECRET = "whsec_dGVzdC13ZWJob29rLXNpZ25pbmctc2VjcmV0LTEyMzQ="
TIMEOUT = httpx.Timeout(5.0)
PUBLIC = ipaddress.ip_address("93.184.215.14")  # an address on the public internet


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with run_receiver() as r:
        yield r


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The worker's own webhook client (tests and development use http)."""
    async with webhook_client(require_https=False, timeout=TIMEOUT) as client:
        yield client


def delivery(url: str) -> DeliveryInput:
    return DeliveryInput(
        webhook_id=f"msg_{uuid.uuid4().hex}",
        event_type=WebhookEvent.CALL_COMPLETED,
        url=url,
        payload={"type": "call.completed", "data": {"outcome": "ok"}},
    )


async def attempt(
    engine: Any, http: httpx.AsyncClient, sent: DeliveryInput, *, allow_private: bool = False
) -> int | ApplicationError:
    """One delivery attempt by the worker's activity: its attempt number, or what it raised."""
    webhooks = WebhookActivities(
        make_sessionmaker(engine), http, SECRET, allow_private=allow_private
    )
    env = ActivityEnvironment()
    try:
        await env.run(webhooks.record_delivery, DeliveryRecord(delivery=sent))
        return await env.run(webhooks.deliver, sent)
    except ApplicationError as exc:
        return exc


async def attempts_of(engine: Any, webhook_id: str) -> list[WebhookAttempt]:
    async with make_sessionmaker(engine)() as session:
        return list(
            await session.scalars(
                select(WebhookAttempt)
                .join(WebhookDelivery)
                .where(WebhookDelivery.webhook_id == webhook_id)
                .order_by(WebhookAttempt.number)
            )
        )


def loopback_targets(port: int) -> dict[str, str]:
    """URLs that all reach a receiver on 127.0.0.1:`port` if nothing stops them."""
    return {
        "literal": f"http://127.0.0.1:{port}/hook",
        "a name resolving to 127.0.0.1": f"http://localhost:{port}/hook",
        "decimal": f"http://2130706433:{port}/hook",
        "hex and short": f"http://0x7f.1:{port}/hook",
        "IPv4-mapped IPv6": f"http://[::ffff:127.0.0.1]:{port}/hook",
    }


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/hook", "loopback address 127.0.0.1"),
        ("http://localhost:8080/hook", "loopback address 127.0.0.1 (localhost)"),
        ("http://2130706433/hook", "loopback address 127.0.0.1 (2130706433)"),
        ("http://[::1]/hook", "loopback address ::1"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback address 127.0.0.1 (::ffff:127.0.0.1)"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata address 169.254.169.254"),
        ("http://169.254.10.1/", "link-local address 169.254.10.1"),
        ("http://[fe80::1]/", "link-local address fe80::1"),
        ("http://10.0.0.5/hook", "private address 10.0.0.5"),
        ("http://192.168.1.10/hook", "private address 192.168.1.10"),
        ("http://[fd12::1]/hook", "private address fd12::1"),
        ("http://100.64.0.7/hook", "shared (CGNAT) address 100.64.0.7"),
        ("http://0.0.0.0:8000/", "unspecified address 0.0.0.0"),
        ("http://224.0.0.1/", "multicast address 224.0.0.1"),
        ("http://[64:ff9b::a00:5]/", "private address 10.0.0.5 (64:ff9b::a00:5)"),
        ("ftp://example.com/hook", "only http and https URLs"),
        ("file:///etc/passwd", "only http and https URLs"),
    ],
)
async def test_ssrf_targets_are_refused_when_written(url: str, why: str) -> None:
    with pytest.raises(DestinationRefused) as refused:
        await check_destination(url, allow_private=False, require_https=False)
    assert refused.value.reason == why


async def test_https_is_required_where_asked_and_private_destinations_where_allowed() -> None:
    with pytest.raises(DestinationRefused, match="https required"):
        await check_destination(
            "http://hooks.example.com/", allow_private=False, require_https=True
        )
    await check_destination("http://10.0.0.5/hook", allow_private=True, require_https=False)
    await check_destination("http://localhost:9/hook", allow_private=True, require_https=False)
    # The cloud's metadata service holds credentials, not receivers: refused even then.
    with pytest.raises(DestinationRefused, match="cloud metadata"):
        await check_destination("http://169.254.169.254/", allow_private=True, require_https=False)


async def test_ssrf_targets_are_refused_when_the_worker_connects(
    engine: Any, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    port = int(receiver.url.rsplit(":", 1)[1])
    targets = {
        **loopback_targets(port),
        "IPv6 loopback": f"http://[::1]:{port}/hook",
        "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "private": "http://10.0.0.5/hook",
    }
    for name, url in targets.items():
        sent = delivery(url)
        outcome = await attempt(engine, http, sent)
        assert isinstance(outcome, ApplicationError), name
        assert outcome.non_retryable and outcome.message.startswith("refused: "), (name, outcome)
        (recorded,) = await attempts_of(engine, sent.webhook_id)
        assert recorded.error == outcome.message and recorded.status_code is None
    assert receiver.requests == []  # nothing reached the receiver behind those names

    # The same receiver, for an organization that allows private destinations.
    sent = delivery(f"http://localhost:{port}/hook")
    assert await attempt(engine, http, sent, allow_private=True) == 1
    assert len(receiver.on("/hook")) == 1


async def test_a_name_that_resolves_to_loopback_after_its_check_is_refused_at_connect(
    engine: Any, http: httpx.AsyncClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: public when the URL was written, 127.0.0.1 when the worker connects."""
    port = int(receiver.url.rsplit(":", 1)[1])
    answers = iter([[PUBLIC], [ipaddress.ip_address("127.0.0.1")]])
    looked_up: list[str] = []

    async def rebinding(host: str, port: int) -> list[Any]:
        looked_up.append(host)
        return next(answers)

    monkeypatch.setattr(destinations, "resolve", rebinding)
    url = f"http://hooks.rebind.example:{port}/hook"
    await check_destination(url, allow_private=False, require_https=False)
    outcome = await attempt(engine, http, delivery(url))
    assert isinstance(outcome, ApplicationError)
    assert outcome.message == "refused: loopback address 127.0.0.1 (hooks.rebind.example)"
    assert looked_up == ["hooks.rebind.example", "hooks.rebind.example"]
    assert receiver.requests == []


async def test_a_redirect_is_a_failed_attempt_and_is_not_followed(
    engine: Any, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers["/hook"] = (302, [(b"location", f"{receiver.url}/internal".encode())], b"")
    sent = delivery(f"{receiver.url}/hook")
    outcome = await attempt(engine, http, sent, allow_private=True)
    assert isinstance(outcome, ApplicationError) and not outcome.non_retryable
    assert outcome.message == "redirect (HTTP 302, not followed)"
    assert [r.path for r in receiver.requests] == ["/hook"]


async def test_a_failed_attempt_keeps_a_status_and_a_short_reason_never_the_answer(
    engine: Any, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers["/hook"] = (500, [], b"Traceback: db password=hunter2 at 10.0.0.5")
    sent = delivery(f"{receiver.url}/hook")
    outcome = await attempt(engine, http, sent, allow_private=True)
    assert isinstance(outcome, ApplicationError) and outcome.message == "HTTP 500"
    (recorded,) = await attempts_of(engine, sent.webhook_id)
    assert (recorded.status_code, recorded.error) == (500, "HTTP 500")


@asynccontextmanager
async def endless_receiver(size: int) -> AsyncIterator[tuple[str, list[int]]]:
    """A raw HTTP receiver answering 200 with a `size`-byte body; yields its URL and the bytes
    of body it managed to send before the client hung up."""
    chunk = b"x" * 65536
    sent: list[int] = [0]

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
            while sent[0] < size:
                writer.write(chunk)
                await writer.drain()
                sent[0] += len(chunk)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook", sent
    finally:
        server.close()


async def test_a_ten_megabyte_answer_is_not_read(engine: Any, http: httpx.AsyncClient) -> None:
    size = 10 * 1024 * 1024
    async with endless_receiver(size) as (url, _sent):
        sent = delivery(url)
        webhooks = WebhookActivities(make_sessionmaker(engine), http, SECRET, allow_private=True)
        env = ActivityEnvironment()
        tracemalloc.start()
        try:
            number = await env.run(webhooks.deliver, sent)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert number == 1  # a 200 is a success whatever follows it
    assert peak < 1024 * 1024, f"{peak} bytes held while delivering"


# --- Write-time checks, per-endpoint secrets, rotation -------------------------------------


async def key_for(engine: Any, organization: str, *scopes: Scope) -> tuple[str, int]:
    """A key of `organization` (created if new) with `scopes` (admin when none) and its id."""
    async with make_sessionmaker(engine)() as session:
        org = await ensure_organization(session, organization)
        key = await create_api_key(
            session,
            name=f"hooks-{uuid.uuid4().hex[:6]}",
            organization_id=org.id,
            scopes=scopes or (Scope.ADMIN,),
        )
        return key, org.id


async def allow_private(engine: Any, organization_id: int) -> None:
    async with make_sessionmaker(engine)() as session:
        await session.execute(
            update(Organization)
            .where(Organization.id == organization_id)
            .values(allow_private_webhooks=True)
        )
        await session.commit()


@pytest.fixture
async def api(settings: Settings, engine: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API (production's rules but for https: tests use local http); each request names
    its own key."""
    async with app_client(settings, engine) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_ssrf_webhook_urls_are_refused_when_an_agent_or_goal_is_written(
    api: httpx.AsyncClient, engine: Any
) -> None:
    key, organization_id = await key_for(engine, f"org-{uuid.uuid4().hex[:6]}")
    document = json.loads((EXAMPLES_DIR / "dental_clinic.json").read_text())
    document["webhook_urls"] = ["http://localhost:8080/hook"]
    refused = await api.post("/api/agents", json=document, headers=bearer(key))
    assert refused.status_code == 422, refused.text
    assert "webhook URL refused: loopback address 127.0.0.1 (localhost)" in refused.text

    goal = {**document["goals"][0], "name": "Call back"}
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/", "http://[::1]/"):
        answer = await api.post(
            "/api/goals", json={**goal, "completion_webhook": url}, headers=bearer(key)
        )
        assert answer.status_code == 422 and "webhook URL refused" in answer.text, answer.text

    document["webhook_urls"] = ["http://hooks.example.invalid/call"]  # not resolvable yet: ok
    created = await api.post("/api/agents", json=document, headers=bearer(key))
    assert created.status_code == 201, created.text
    changed = await api.patch(
        f"/api/agents/{created.json()['id']}",
        json={"webhook_urls": ["http://2130706433/hook"]},
        headers=bearer(key),
    )
    assert changed.status_code == 422 and "loopback address 127.0.0.1" in changed.text

    await allow_private(engine, organization_id)  # its receivers live on its own network
    changed = await api.patch(
        f"/api/agents/{created.json()['id']}",
        json={"webhook_urls": ["http://10.0.0.5/hook"]},
        headers=bearer(key),
    )
    assert changed.status_code == 200, changed.text
    endpoints = (await api.get("/api/webhooks/endpoints", headers=bearer(key))).json()
    assert {e["url"] for e in endpoints} >= {
        "http://hooks.example.invalid/call",
        "http://10.0.0.5/hook",
    }


async def org_delivery(engine: Any, organization_id: int, url: str) -> DeliveryInput:
    async with make_sessionmaker(engine)() as session:
        call = Call(
            call_sid=f"CA{uuid.uuid4().hex}",
            direction="inbound",
            workflow_id="w",
            organization_id=organization_id,
        )
        session.add(call)
        await session.commit()
    sent = delivery(url)
    sent.call_sid = call.call_sid
    sent.organization_id = organization_id
    return sent


async def test_a_rotated_secret_signs_alongside_the_new_one_for_the_grace_period_only(
    api: httpx.AsyncClient, engine: Any, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    key, organization_id = await key_for(engine, f"org-{uuid.uuid4().hex[:6]}")
    await allow_private(engine, organization_id)
    url = f"{receiver.url}/hook"
    made = await api.post(
        "/api/goals",
        json={
            "name": "Rotate",
            "success_criteria": {"description": "x"},
            "completion_webhook": url,
        },
        headers=bearer(key),
    )
    assert made.status_code == 201, made.text
    (endpoint,) = (await api.get("/api/webhooks/endpoints", headers=bearer(key))).json()
    old = await api.get(f"/api/webhooks/endpoints/{endpoint['id']}/secret", headers=bearer(key))
    old_secret = old.json()["secret"]
    assert check_secret(old_secret) and endpoint["secret_masked"] != old_secret
    assert old_secret not in (await api.get("/api/webhooks/endpoints", headers=bearer(key))).text

    rotated = await api.post(
        f"/api/webhooks/endpoints/{endpoint['id']}/rotate", headers=bearer(key)
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != old_secret and rotated.json()["previous_secret"] == old_secret

    sent = await org_delivery(engine, organization_id, url)
    assert isinstance(await attempt(engine, http, sent), int)
    (during,) = receiver.on("/hook")
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (old_secret, new_secret):  # a receiver holding either one accepts
        Webhook(secret).verify(during.body, during.headers)

    async with make_sessionmaker(engine)() as session:  # the grace period is over
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint["id"])
            .values(previous_secret_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    sent = await org_delivery(engine, organization_id, url)
    assert isinstance(await attempt(engine, http, sent), int)
    after = receiver.on("/hook")[-1]
    Webhook(new_secret).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):  # nor the platform's one global secret
        Webhook(SECRET).verify(after.body, after.headers)


async def test_webhook_secrets_have_a_strict_format(api: httpx.AsyncClient, engine: Any) -> None:
    key, organization_id = await key_for(engine, f"org-{uuid.uuid4().hex[:6]}")
    async with make_sessionmaker(engine)() as session:
        endpoint = await ensure_endpoint(
            session, organization_id=organization_id, url="https://hooks.example.com/a"
        )
        await session.commit()
    rotate_url = f"/api/webhooks/endpoints/{endpoint.id}/rotate"
    nine_bytes = "whsec_" + base64.b64encode(b"123456789").decode()
    for weak in (nine_bytes, "whsec_not base64!", "sk_" + base64.b64encode(bytes(32)).decode()):
        answer = await api.post(rotate_url, json={"secret": weak}, headers=bearer(key))
        assert answer.status_code == 422, (weak, answer.text)
        with pytest.raises(InvalidSecret):
            check_secret(weak)
    chosen = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    answer = await api.post(rotate_url, json={"secret": chosen}, headers=bearer(key))
    assert answer.status_code == 200 and answer.json()["secret"] == chosen


async def test_another_organizations_endpoint_is_not_found(
    api: httpx.AsyncClient, engine: Any
) -> None:
    _, theirs = await key_for(engine, f"org-{uuid.uuid4().hex[:6]}")
    mine, _ = await key_for(engine, f"org-{uuid.uuid4().hex[:6]}")
    reader, _ = await key_for(engine, f"org-{uuid.uuid4().hex[:6]}", Scope.READ)
    async with make_sessionmaker(engine)() as session:
        endpoint = await ensure_endpoint(
            session, organization_id=theirs, url="https://hooks.example.com/theirs"
        )
        await session.commit()
    base = f"/api/webhooks/endpoints/{endpoint.id}"
    assert (await api.get(f"{base}/secret", headers=bearer(mine))).status_code == 404
    assert (await api.post(f"{base}/rotate", headers=bearer(mine))).status_code == 404
    assert (await api.get("/api/webhooks/endpoints", headers=bearer(mine))).json() == []
    # A read-only key may list endpoints but never see or change a secret.
    assert (await api.get(f"{base}/secret", headers=bearer(reader))).status_code == 403


async def test_the_api_shows_a_status_never_the_receivers_answer(
    client: httpx.AsyncClient, engine: Any, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    async with make_sessionmaker(engine)() as session:
        organization = await default_organization(session)
    await allow_private(engine, organization.id)
    receiver.answers["/hook"] = (500, [], b"Traceback: db password=hunter2 at 10.0.0.5")
    sent = await org_delivery(engine, organization.id, f"{receiver.url}/hook")
    outcome = await attempt(engine, http, sent)
    assert isinstance(outcome, ApplicationError) and outcome.message == "HTTP 500"
    listed = await client.get("/api/webhooks/deliveries")
    assert listed.status_code == 200
    (shown,) = [d for d in listed.json() if d["webhook_id"] == sent.webhook_id]
    assert [(a["status_code"], a["error"]) for a in shown["attempts"]] == [(500, "HTTP 500")]
    assert "hunter2" not in listed.text
