"""Durability: a call outlives a worker killed with SIGKILL and a Temporal server restart.

The killed worker is a real `callwright worker` process; the restarted server is a dedicated
dev server on its own SQLite file (the session's server is shared by other tests).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle

from core.calls.temporal import connect_temporal
from core.calls.types import CallEnded, CallResult, FieldEvent, Speaker, WebhookEvent
from core.db.models import Call, CallTurn, WebhookDelivery
from core.db.session import make_sessionmaker
from core.search_attributes import CALL_SEARCH_ATTRIBUTES
from core.settings import Settings
from tests.webhook_receiver import Receiver
from tests.workflows.calls import BOOKING, running_worker, say, start
from workers.services import EmbeddedTemporal, find_free_port
from workers.services.base import parent_death_hook
from workflows.call import CallWorkflow
from workflows.webhook import webhook_workflow_id

T = TypeVar("T")

# Generous: a second worker first waits out the dead one's workflow task (10 s timeout) or
# sticky queue (10 s), and a restarted server's clients back off before reconnecting.
WAIT = 60.0
STOP_WAIT = 30.0  # the worker's graceful shutdown allows running activities 20 s
# Settings the worker process must not inherit from whoever runs the tests.
NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "LLM_BASE_URL", "LLM_API_KEY", "TEMPORAL_NAMESPACE")


async def wait_until(
    probe: Callable[[], Awaitable[T | None]],
    what: str,
    timeout: float = WAIT,
    check: Callable[[], None] | None = None,
) -> T:
    """Poll `probe` until it returns something truthy; `check` may raise to fail early."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                if check is not None:
                    check()
                if value := await probe():
                    return value
                await asyncio.sleep(0.1)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


async def _equal(value: Awaitable[T], expected: T) -> bool:
    return await value == expected


async def stored_turns(engine: Any, call_sid: str) -> list[int]:
    """The `seq` of every turn the database holds for the call, in order."""
    async with make_sessionmaker(engine)() as session:
        call = await session.scalar(select(Call).where(Call.call_sid == call_sid))
        if call is None:
            return []
        turns = await session.scalars(select(CallTurn.seq).where(CallTurn.call_id == call.id))
        return sorted(turns)


async def delivery_status(engine: Any, event: WebhookEvent) -> str | None:
    """The status of the (only) delivery of `event`, or None before it is recorded."""
    async with make_sessionmaker(engine)() as session:
        return await session.scalar(
            select(WebhookDelivery.status).where(WebhookDelivery.event_type == event.value)
        )


async def book_fields(handle: WorkflowHandle[Any, Any]) -> None:
    for name, value in BOOKING.items():
        await handle.signal(CallWorkflow.field_captured, FieldEvent(name=name, value=value))


# --- the worker as a real process ------------------------------------------------------------


def worker_env(call_settings: Settings, temporal_address: str, data_dir: Path) -> dict[str, str]:
    """The environment of a `callwright worker` for this test's database and task queue."""
    assert call_settings.database_url is not None
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(
        {
            "DATABASE_URL": call_settings.database_url,
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_TASK_QUEUE": call_settings.temporal_task_queue,
            "CALLWRIGHT_ENV": "test",
            "WEBHOOK_ALLOW_PRIVATE": "true",  # the test's receiver listens on loopback
            "TWILIO_AUTH_TOKEN": call_settings.twilio_auth_token.get_secret_value(),
            "WEBHOOK_SIGNING_SECRET": call_settings.webhook_signing_secret.get_secret_value(),
            "CALL_TOKEN_SECRET": call_settings.call_token_secret.get_secret_value(),
            "PAYLOAD_ENCRYPTION_KEYS": call_settings.payload_encryption_keys.get_secret_value(),
            # No stack file of a developer's `callwright dev` may fill in other addresses.
            "CALLWRIGHT_DATA_DIR": str(data_dir),
        }
    )
    return env


class WorkerProcesses:
    """Starts `callwright worker` processes, logging to files, and stops them all at the end."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.running: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log_path = self.log_dir / f"worker-{len(self.running) + 1}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "workers.cli", "worker"],
                env=self.env,
                cwd=self.log_dir,  # no .env or .callwright of the checkout is read
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Should pytest itself die, the worker must not poll on forever.
                preexec_fn=parent_death_hook(signal.SIGKILL),
            )
        self.running.append((process, log_path))
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        path = next(p for proc, p in self.running if proc is process)
        return path.read_text(errors="replace")[-3000:]

    def alive(self, process: subprocess.Popen[bytes]) -> Callable[[], None]:
        """A `check` for wait_until: fail at once, with its log, if the worker has exited."""

        def check() -> None:
            code = process.poll()
            if code is not None:
                pytest.fail(f"worker exited with {code}:\n{self.log_of(process)}")

        return check

    def stop_all(self) -> None:
        for process, _ in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.running:
            try:
                process.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
async def worker_processes(
    call_settings: Settings, temporal_server: EmbeddedTemporal, tmp_path: Path
) -> AsyncIterator[WorkerProcesses]:
    processes = WorkerProcesses(
        worker_env(call_settings, temporal_server.address, tmp_path / "data"), tmp_path
    )
    try:
        yield processes
    finally:
        await asyncio.to_thread(processes.stop_all)


async def test_call_finishes_after_its_worker_is_killed_and_webhooks_arrive_once(
    temporal_client: Client,
    worker_processes: WorkerProcesses,
    make_call: Any,
    receiver: Receiver,
    task_queue: str,
    engine: Any,
) -> None:
    call = await make_call()
    first = worker_processes.start()
    handle = await start(temporal_client, call, task_queue)
    await say(handle, 1, Speaker.AGENT, "Thanks for calling, how can I help?")
    await say(handle, 2, Speaker.CALLER, "I'd like a cleaning on December 2nd at 3:30 pm")
    await wait_until(
        lambda: _equal(stored_turns(engine, call.call_sid), [1, 2]),
        "the first worker to store turns 1 and 2",
        check=worker_processes.alive(first),
    )
    await book_fields(handle)
    # Delivered and recorded: the HTTP attempt's completion is in the history, so the kill
    # below cannot make Temporal retry it (a kill between the receiver's 200 and that record
    # would: webhooks are at-least-once, receivers dedupe by webhook-id).
    await wait_until(
        lambda: _equal(delivery_status(engine, WebhookEvent.GOAL_COMPLETED), "delivered"),
        "goal.completed to be delivered",
        check=worker_processes.alive(first),
    )

    os.kill(first.pid, signal.SIGKILL)
    assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL

    # No worker runs: the server accepts these and keeps them in the workflow's history.
    await say(handle, 3, Speaker.AGENT, "You're booked for December 2nd at 3:30 pm.")
    await say(handle, 4, Speaker.CALLER, "Great, thanks, bye!")
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="caller_hung_up"))

    second = worker_processes.start()
    try:
        async with asyncio.timeout(WAIT):
            result: CallResult = await handle.result()
    except TimeoutError:
        pytest.fail(
            f"no result within {WAIT:g} s; second worker:\n{worker_processes.log_of(second)}"
        )
    assert result.outcome == "goals_met" and result.end_reason == "caller_hung_up"

    call_requests = await receiver.wait_for("/call", timeout=WAIT)
    assert [t["seq"] for t in call_requests[0].json["data"]["transcript"]] == [1, 2, 3, 4]
    assert await stored_turns(engine, call.call_sid) == [1, 2, 3, 4]

    # Once every delivery workflow has finished, no further request can come.
    ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
    for webhook_id in ids:
        delivery = temporal_client.get_workflow_handle(webhook_workflow_id(webhook_id))
        async with asyncio.timeout(WAIT):
            await delivery.result()
    ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert {r.json["type"] for r in receiver.requests} == {"goal.completed", "call.completed"}
    assert all(count == 1 for count in ids.values()), f"a webhook arrived twice: {ids}"
    assert len(ids) == 2
    assert all(r.headers["x-answered"] == "200" for r in receiver.requests)


# --- the Temporal server restarted under a running call --------------------------------------


@pytest.fixture
async def own_temporal(tmp_path: Path) -> AsyncIterator[EmbeddedTemporal]:
    """A Temporal dev server of this test's own, free to be stopped and started again."""
    server = EmbeddedTemporal(
        tmp_path / "temporal",
        find_free_port(),
        find_free_port(),
        headless=True,
        search_attributes=CALL_SEARCH_ATTRIBUTES,
    )
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def test_call_continues_after_the_temporal_server_restarts(
    own_temporal: EmbeddedTemporal,
    call_settings: Settings,
    make_call: Any,
    receiver: Receiver,
    task_queue: str,
    engine: Any,
) -> None:
    client = await connect_temporal(
        own_temporal.address, "default", call_settings.payload_encryption_keys
    )
    call = await make_call()
    async with running_worker(client, call_settings, engine):
        handle = await start(client, call, task_queue)
        await say(handle, 1, Speaker.AGENT, "Thanks for calling, how can I help?")
        await wait_until(
            lambda: _equal(stored_turns(engine, call.call_sid), [1]),
            "turn 1 to be stored before the restart",
        )

        before = own_temporal.pid
        await asyncio.to_thread(own_temporal.stop)
        await asyncio.to_thread(own_temporal.start)
        assert own_temporal.pid not in (None, before)

        # The same client and worker carry on: both reconnect by themselves.
        await say(handle, 2, Speaker.CALLER, "I'd like a cleaning on December 2nd at 3:30 pm")
        await book_fields(handle)
        await wait_until(
            lambda: _equal(stored_turns(engine, call.call_sid), [1, 2]),
            "turn 2 to be stored after the restart",
        )
        await receiver.wait_for("/goal", timeout=WAIT)
        await handle.signal(CallWorkflow.call_ended, CallEnded(reason="caller_hung_up"))
        try:
            async with asyncio.timeout(WAIT):
                result: CallResult = await handle.result()
        except TimeoutError:
            pytest.fail(f"no result within {WAIT:g} s of the server's restart")
        # call.completed is delivered by a workflow of its own, on this worker.
        call_requests = await receiver.wait_for("/call", timeout=WAIT)
    assert result.outcome == "goals_met" and result.end_reason == "caller_hung_up"
    transcript = call_requests[0].json["data"]["transcript"]
    assert [(t["seq"], t["text"][:10]) for t in transcript] == [
        (1, "Thanks for"),
        (2, "I'd like a"),
    ]
