"""Webhook soak: many deliveries to a receiver that fails at random; none may be lost or doubled.

Starts a throw-away PostgreSQL and Temporal dev server, an in-process worker (its HTTP client
times out after `--http-timeout` seconds) and a receiver on a real loopback socket that answers
500 to half of the requests and holds a tenth of them past the worker's timeout, at random. It
starts `--events` `WebhookDeliveryWorkflow`s with short retries, waits for all, then reports:

- **delivered / lost**: events the receiver accepted (answered 2xx) at least once, or never;
- **duplicates**: events accepted under two different webhook ids (a receiver that dedupes by
  `webhook-id` would act twice) — must be 0; the same id accepted again is a retry, counted as
  a **retried receipt** (receivers dedupe those);
- **attempts**: requests the receiver got, and the attempt rows recorded;
- **latency**: workflow start → the receiver's first 2xx answer, p50 and p95;
- **dead letters**: rows left `failed`, with how to replay them.

It exits 1 if an event was lost or duplicated.

    .venv/bin/python -m workers.chaos.soak [--events 1000] [--seed 1] [--markdown RELIABILITY.md]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.types import Receive, Scope, Send
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from core.calls.temporal import connect_temporal
from core.calls.types import DeliveryInput, DeliveryResult, WebhookEvent, WebhookRetry
from core.db import migrate
from core.db.models import WebhookAttempt, WebhookDelivery
from core.db.session import make_async_engine, make_sessionmaker
from core.settings import Settings
from core.webhooks.signing import event_envelope
from workers.services import LOOPBACK, EmbeddedPostgres, EmbeddedTemporal, find_free_port
from workers.worker import build_worker
from workflows.webhook import WebhookDeliveryWorkflow, webhook_workflow_id

logger = logging.getLogger(__name__)
SECTION = "## Webhook soak"
FAIL_RATE = 0.5
HOLD_RATE = 0.1
# Short retries so a soak takes minutes; the deadline is long enough that every event gets in.
SOAK_RETRY = WebhookRetry(initial_interval_s=0.2, maximum_interval_s=2.0, deadline_s=600.0)
START_CONCURRENCY = 20
RESULT_CONCURRENCY = 100


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def _answer(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"ok" if status == 200 else b"no"})


class ChaosReceiver:
    """An ASGI webhook receiver that fails `fail_rate` of requests (500) and holds `hold_rate`
    of them for `hold_s` (past the sender's timeout), at random; it verifies every signature
    and records what it accepted."""

    def __init__(
        self, secret: str, *, fail_rate: float, hold_rate: float, hold_s: float, seed: int
    ) -> None:
        self.verifier = Webhook(secret)
        self.fail_rate = fail_rate
        self.hold_rate = hold_rate
        self.hold_s = hold_s
        self.rng = random.Random(seed)
        self.answers: Counter[str] = Counter()
        self.accepted_at: dict[str, list[float]] = defaultdict(list)
        """webhook id → when each 2xx answer was given (monotonic seconds)."""
        self.ids_by_event: dict[str, set[str]] = defaultdict(set)
        """event key → the webhook ids it was accepted under."""

    @property
    def requests(self) -> int:
        return sum(self.answers.values())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        draw = self.rng.random()
        if draw < self.hold_rate:
            self.answers["held"] += 1
            await asyncio.sleep(self.hold_s)  # the sender has given up by now
            await _answer(send, 504)
            return
        if draw < self.hold_rate + self.fail_rate:
            self.answers["500"] += 1
            await _answer(send, 500)
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        try:
            payload = self.verifier.verify(body, headers)
        except WebhookVerificationError:
            self.answers["bad signature"] += 1
            await _answer(send, 400)
            return
        webhook_id = headers["webhook-id"]
        self.answers["200"] += 1
        self.accepted_at[webhook_id].append(time.monotonic())
        self.ids_by_event[payload["data"]["event"]].add(webhook_id)
        await _answer(send, 200)


@dataclass
class SoakReport:
    """What a soak measured."""

    events: int
    delivered: int
    lost: list[str]
    duplicates: list[str]
    retried_receipts: int
    attempts: int
    answers: dict[str, int]
    latency_ms: list[float]
    workflow_failures: int
    unfinished: int
    elapsed_s: float
    """First workflow start → every workflow finished."""
    started_s: float
    """First workflow start → the last one started (the burst's length)."""
    http_timeout_s: float
    seed: int
    rows: dict[str, int] = field(default_factory=dict)
    """Delivery rows by status, read from the database afterwards."""
    attempt_rows: int = 0
    dead_letters: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing accepted twice under different ids."""
        return not self.lost and not self.duplicates


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (inclusive method), or NaN with no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _deliveries(events: int) -> list[DeliveryInput]:
    now = datetime.now(UTC)
    return [
        DeliveryInput(
            webhook_id=f"msg_{uuid.uuid4().hex}",
            event_type=WebhookEvent.CALL_COMPLETED,
            url="",  # set once the receiver listens
            payload=event_envelope(WebhookEvent.CALL_COMPLETED.value, now, {"event": f"e{n}"}),
            retry=SOAK_RETRY,
        )
        for n in range(events)
    ]


def _secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


async def run_soak(
    events: int,
    *,
    database_url: str,
    temporal_address: str,
    seed: int = 1,
    http_timeout_s: float = 2.0,
    timeout_s: float = 1800.0,
) -> SoakReport:
    """Deliver `events` webhooks through a worker of ours to a failing receiver; report."""
    secret = _secret()
    receiver = ChaosReceiver(
        secret, fail_rate=FAIL_RATE, hold_rate=HOLD_RATE, hold_s=http_timeout_s + 1.0, seed=seed
    )
    settings = Settings.model_validate(
        {
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_TASK_QUEUE": f"soak-{uuid.uuid4().hex[:8]}",
            "CALLWRIGHT_ENV": "test",
            "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
            "WEBHOOK_SIGNING_SECRET": secret,
            "CALL_TOKEN_SECRET": secrets.token_hex(32),
            "PAYLOAD_ENCRYPTION_KEYS": "soak:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        }
    )
    port = find_free_port()
    config = uvicorn.Config(
        receiver, host=LOOPBACK, port=port, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    engine = make_async_engine(database_url)
    try:
        while not server.started:
            if serving.done():
                serving.result()  # why it could not start
            await asyncio.sleep(0.02)
        client = await connect_temporal(
            temporal_address, "default", settings.payload_encryption_keys
        )
        timeout = httpx.Timeout(http_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
            worker = build_worker(
                client,
                settings=settings,
                sessions=make_sessionmaker(engine),
                http=http,
                llm=None,
                twilio=None,
            )
            async with worker:
                deliveries = _deliveries(events)
                for delivery in deliveries:
                    delivery.url = f"http://{LOOPBACK}:{port}/hooks"
                report = await _drive(
                    client, settings, deliveries, receiver, timeout_s, http_timeout_s, seed
                )
        await _read_rows(engine, report)
        return report
    finally:
        server.should_exit = True
        await serving
        await engine.dispose()


async def _drive(
    client: Client,
    settings: Settings,
    deliveries: list[DeliveryInput],
    receiver: ChaosReceiver,
    timeout_s: float,
    http_timeout_s: float,
    seed: int,
) -> SoakReport:
    started: dict[str, float] = {}
    begun = time.monotonic()
    gate = asyncio.Semaphore(START_CONCURRENCY)

    async def start(delivery: DeliveryInput) -> WorkflowHandle[Any, DeliveryResult]:
        async with gate:
            started[delivery.webhook_id] = time.monotonic()
            return await client.start_workflow(
                WebhookDeliveryWorkflow.run,
                delivery,
                id=webhook_workflow_id(delivery.webhook_id),
                task_queue=settings.temporal_task_queue,
            )

    handles = await asyncio.gather(*(start(d) for d in deliveries))
    started_s = time.monotonic() - begun
    waiting = asyncio.Semaphore(RESULT_CONCURRENCY)

    async def result(handle: WorkflowHandle[Any, DeliveryResult]) -> DeliveryResult | None:
        async with waiting:
            try:
                return await handle.result()
            except WorkflowFailureError as exc:
                logger.error("workflow %s failed: %s", handle.id, exc.cause or exc)
                return None

    waits = [asyncio.create_task(result(h)) for h in handles]
    done, pending = await asyncio.wait(waits, timeout=timeout_s)
    for task in pending:
        task.cancel()
    results = [t.result() for t in done]
    elapsed = time.monotonic() - begun

    lost = [
        d.payload["data"]["event"]
        for d in deliveries
        if d.payload["data"]["event"] not in receiver.ids_by_event
    ]
    duplicates = sorted(e for e, ids in receiver.ids_by_event.items() if len(ids) > 1)
    latency = [
        (receiver.accepted_at[d.webhook_id][0] - started[d.webhook_id]) * 1000
        for d in deliveries
        if receiver.accepted_at.get(d.webhook_id)
    ]
    return SoakReport(
        events=len(deliveries),
        delivered=len(deliveries) - len(lost),
        lost=lost,
        duplicates=duplicates,
        retried_receipts=sum(len(times) - 1 for times in receiver.accepted_at.values()),
        attempts=receiver.requests,
        answers=dict(receiver.answers),
        latency_ms=latency,
        workflow_failures=sum(1 for r in results if r is None),
        unfinished=len(pending),
        elapsed_s=elapsed,
        started_s=started_s,
        http_timeout_s=http_timeout_s,
        seed=seed,
    )


async def _read_rows(engine: Any, report: SoakReport) -> None:
    async with make_sessionmaker(engine)() as session:
        counted = await session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        )
        report.rows = {status: int(n) for status, n in counted.all()}
        report.attempt_rows = int(await session.scalar(select(func.count(WebhookAttempt.id))) or 0)
        failed = await session.execute(
            select(WebhookDelivery.id, WebhookDelivery.webhook_id)
            .where(WebhookDelivery.status == "failed")
            .order_by(WebhookDelivery.id)
        )
        report.dead_letters = [(int(i), w) for i, w in failed.all()]


def summary_markdown(report: SoakReport, command: str) -> str:
    """The `## Webhook soak` section of RELIABILITY.md."""
    answers = ", ".join(f"{k} × {v}" for k, v in sorted(report.answers.items()))
    rows = ", ".join(f"{k} {v}" for k, v in sorted(report.rows.items())) or "none"
    lines = [
        SECTION,
        "",
        f"Command: `{command}` (measured {datetime.now(UTC):%Y-%m-%d} on {os.cpu_count()} CPU "
        f"cores, seed {report.seed}; worker, receiver and Temporal on the same machine).",
        "",
        f"The receiver answers 500 to {FAIL_RATE:.0%} of requests and holds {HOLD_RATE:.0%} past "
        f"the worker's {report.http_timeout_s:g} s HTTP timeout, at random; Temporal retries each "
        f"delivery from {SOAK_RETRY.initial_interval_s:g} s, backing off to "
        f"{SOAK_RETRY.maximum_interval_s:g} s, under the same `webhook-id`.",
        "",
        "| events | delivered | lost | duplicates | retried receipts | attempts | "
        "latency p50 | latency p95 | dead letters |",
        "| --- " * 9 + "|",
        f"| {report.events} | {report.delivered} | {len(report.lost)} | {len(report.duplicates)} "
        f"| {report.retried_receipts} | {report.attempts} | "
        f"{percentile(report.latency_ms, 50):.0f} ms | {percentile(report.latency_ms, 95):.0f} ms "
        f"| {len(report.dead_letters)} |",
        "",
        "- **lost**: events the receiver never answered 2xx; **duplicates**: events it accepted "
        "under two different webhook ids; **retried receipts**: the same webhook id accepted "
        "again (an attempt whose answer was lost is sent again; receivers dedupe by `webhook-id`).",
        "- **attempts**: requests the receiver got "
        f"({answers}); attempt rows recorded: {report.attempt_rows}.",
        "- **latency**: workflow start → the receiver's first 2xx answer. All workflows are "
        f"started in one burst ({report.started_s:.0f} s for {report.events}), so it includes "
        "the wait behind the rest of the burst; the run took "
        f"{report.elapsed_s:.0f} s ({report.events / max(report.elapsed_s, 1e-9):.1f} "
        f"deliveries/s, {report.attempts / max(report.elapsed_s, 1e-9):.1f} attempts/s).",
        f"- Delivery rows: {rows}; workflows failed: {report.workflow_failures}"
        + (f"; not finished in time: {report.unfinished}" if report.unfinished else "")
        + ".",
    ]
    if report.dead_letters:
        ids = ", ".join(f"{i} (`{w}`)" for i, w in report.dead_letters)
        lines.append(
            f"- Dead letters: {ids}. List them with `GET /api/webhooks/deliveries?status=failed` "
            "and send one again with `POST /api/webhooks/deliveries/{id}/replay`."
        )
    else:
        lines.append(
            "- Dead letters: none (a `failed` row would be replayed with "
            "`POST /api/webhooks/deliveries/{id}/replay`)."
        )
    for event in report.lost[:20]:
        lines.append(f"- Lost: {event}")
    for event in report.duplicates[:20]:
        lines.append(f"- Duplicated: {event}")
    return "\n".join(lines) + "\n"


def replace_section(document: str, section: str) -> str:
    """`document` with its `## Webhook soak` section replaced by `section` (or appended)."""
    lines = document.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == SECTION)
    except StopIteration:
        head = document.rstrip("\n")
        return (head + "\n\n" if head else "") + section
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = "".join(lines[end:])
    return "".join(lines[:start]) + section + ("\n" + tail if tail else "")


def write_markdown(path: Path, section: str) -> None:
    """Write or replace the section in `path` (created with a title if it does not exist)."""
    document = path.read_text() if path.exists() else "# Reliability\n"
    path.write_text(replace_section(document, section))


def _soak_with_services(args: argparse.Namespace, work_dir: Path) -> SoakReport:
    postgres = EmbeddedPostgres(work_dir / "postgres", find_free_port(), fast=True)
    temporal = EmbeddedTemporal(
        work_dir / "temporal", find_free_port(), find_free_port(), headless=True
    )
    postgres.start()
    try:
        temporal.start()
        try:
            migrate.upgrade(postgres.database_url)
            return asyncio.run(
                run_soak(
                    args.events,
                    database_url=postgres.database_url,
                    temporal_address=temporal.address,
                    seed=args.seed,
                    http_timeout_s=args.http_timeout,
                )
            )
        finally:
            temporal.stop()
    finally:
        postgres.stop()


def main() -> None:
    """Entry point of `python -m workers.chaos.soak`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="deliveries (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="the receiver's random seed")
    parser.add_argument(
        "--http-timeout", type=float, default=2.0, help="the worker's HTTP timeout (s)"
    )
    parser.add_argument("--markdown", type=Path, help="write the '## Webhook soak' section here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Every failed attempt is expected here; Temporal would log each one.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    work_dir = Path(tempfile.mkdtemp(prefix="callwright-soak-"))
    try:
        report = _soak_with_services(args, work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    command = f"python -m workers.chaos.soak --events {args.events}"
    if args.seed != 1:
        command += f" --seed {args.seed}"
    if args.http_timeout != 2.0:
        command += f" --http-timeout {args.http_timeout:g}"
    if args.markdown:
        command += f" --markdown {args.markdown}"
    section = summary_markdown(report, command)
    if args.markdown:
        write_markdown(args.markdown, section)
    sys.stdout.write(section)
    sys.stdout.flush()
    sys.stderr.flush()
    # temporalio can crash at interpreter exit after all work is done (sdk-python#300).
    os._exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
