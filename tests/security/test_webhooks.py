"""Webhooks like Svix (issue 10, point 3): destinations checked when written and again when the
worker connects (no SSRF to loopback, private, link-local or metadata addresses, nor through a
name that resolves there), no redirects, answers read to a few KiB and never kept, per-endpoint
secrets rotated with overlapping signatures, strict secret format."""

from __future__ import annotations

import asyncio
import ipaddress
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.webhooks import WebhookActivities
from core.calls.activities import DeliveryRecord
from core.calls.types import DeliveryInput, WebhookEvent
from core.db.models import WebhookAttempt, WebhookDelivery
from core.db.session import make_sessionmaker
from core.webhooks import destinations
from core.webhooks.destinations import DestinationRefused, check_destination, webhook_client
from tests.webhook_receiver import Receiver, run_receiver

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
