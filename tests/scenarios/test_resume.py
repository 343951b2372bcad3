"""Calls that survive the realtime process holding their audio: `kill -9`, a deploy's SIGTERM,
and a fleet with no room left. Phone audio through the real platform; every realtime node here
is a real `callwright realtime` process (the caller's own speech and hearing run in the test's
process, and must not starve the node it measures).

The caller is the eval's adaptive caller: it answers whatever the agent asks, so it follows the
agent back into the booking after the re-entry line as a person would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from api.routes.twilio import BUSY_MESSAGE
from core.calls.types import call_workflow_id
from realtime.brains.base import CUT_OFF
from tests.scenarios.conftest import Platform, PlatformFactory
from workers.caller.report import CallReport
from workers.eval.audio import Stack, ensure_agent, place_audio_call
from workers.eval.cases import EvalCase, load_cases
from workers.eval.outcome import ScenarioResult
from workers.services import find_free_port
from workers.stack import spawn_cli, wait_for_health

pytestmark = pytest.mark.slow

SCENARIO = Path(__file__).with_name("booking-through-a-crash.yaml")
BOOKING_FIELDS = {"service", "date", "time"}
NODE_START_S = 180.0  # a realtime process loads and warms its models first
CRASH_TO_VOICE_S = 3.0
# Not inherited from whoever runs the tests: the node must use the test's own services.
NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "LLM_BASE_URL", "LLM_API_KEY", "BRAIN")


@dataclass
class RealtimeNode:
    """A `callwright realtime` process in the registry, to crash or drain."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    node_id: str = ""

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Nodes:
    """Starts realtime processes against a platform's services; stops them all at the end."""

    log_dir: Path
    started: list[RealtimeNode] = field(default_factory=list)

    async def start(
        self, world: Platform, *, capacity: int = 20, drain_s: float = 20.0
    ) -> RealtimeNode:
        settings = world.settings
        port = find_free_port()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        env.update(
            {
                "CALLWRIGHT_ENV": "test",
                "CALLWRIGHT_DATA_DIR": str(self.log_dir),
                "REDIS_URL": settings.redis_url or "",
                "TEMPORAL_ADDRESS": settings.temporal_address,
                "TWILIO_AUTH_TOKEN": settings.twilio_auth_token.get_secret_value(),
                "WEBHOOK_SIGNING_SECRET": settings.webhook_signing_secret.get_secret_value(),
                "CALL_TOKEN_SECRET": settings.call_token_secret.get_secret_value(),
                "PAYLOAD_ENCRYPTION_KEYS": settings.payload_encryption_keys.get_secret_value(),
                "REALTIME_PUBLIC_URL": url,
                "REALTIME_DRAIN_S": str(drain_s),
                "MAX_CONCURRENT_CALLS": str(capacity),
            }
        )
        if settings.today is not None:
            env["CALLWRIGHT_TODAY"] = settings.today.isoformat()
        log = self.log_dir / f"realtime-{len(self.started) + 1}.log"
        process = spawn_cli(
            ["realtime", "--host", "127.0.0.1", "--port", str(port)], env, log, session=False
        )
        node = RealtimeNode(process, url, log)
        self.started.append(node)
        await asyncio.to_thread(
            wait_for_health, process, "a realtime node", f"{url}/health", NODE_START_S, log
        )
        async with httpx.AsyncClient() as http:
            node.node_id = (await http.get(f"{url}/health")).json()["node"]
        return node

    def stop(self) -> None:
        for node in self.started:
            if node.process.poll() is None:
                node.process.kill()
            node.process.wait(10)


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[Nodes]:
    started = Nodes(tmp_path)
    try:
        yield started
    finally:
        started.stop()


async def booking_case() -> EvalCase:
    (case,) = load_cases([SCENARIO])
    return case


async def prepare(world: Platform, case: EvalCase) -> tuple[Stack, int]:
    """The scenario's agent on the platform, its webhooks to the test's receiver."""
    agent_id = await ensure_agent(world.api, case)
    patched = await world.api.patch(
        f"/api/agents/{agent_id}", json={"webhook_urls": [f"{world.receiver.url}/call"]}
    )
    assert patched.status_code == 200, patched.text
    stack = Stack(
        api_url=world.api_url,
        api_key="",
        auth_token=world.settings.twilio_auth_token.get_secret_value(),
        today=world.settings.today,
    )
    return stack, agent_id


async def wait_for(probe: Any, what: str, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := await probe():
            return value
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


async def captured(world: Platform, call_sid: str) -> dict[str, Any]:
    response = await world.api.get(f"/api/calls/{call_sid}")
    if response.status_code != 200:
        return {}
    return dict((response.json().get("progress") or {}).get("captured") or {})


async def streams_of(temporal: Client, call_sid: str) -> list[tuple[str, float]]:
    """(node id, when) of each stream that held the call, from the workflow's history."""
    history = await temporal.get_workflow_handle(call_workflow_id(call_sid)).fetch_history()
    found: list[tuple[str, float]] = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            continue
        attributes = event.workflow_execution_signaled_event_attributes
        if attributes.signal_name != "stream_attached":
            continue
        # Sealed in history (core/codec.py): the client's converter opens it.
        [payload] = await temporal.data_converter.decode(list(attributes.input.payloads))
        node = str(payload.get("node_id") or "") if isinstance(payload, dict) else ""
        found.append((node, event.event_time.ToDatetime().timestamp()))
    return found


async def runs_of(temporal: Client, call_sid: str) -> int:
    return len(
        [w async for w in temporal.list_workflows(f"WorkflowId = '{call_workflow_id(call_sid)}'")]
    )


async def assert_booked(
    world: Platform, result: ScenarioResult, report: CallReport | None
) -> dict[str, Any]:
    """The call met its goal with every field of the booking recorded; its record."""
    assert report is not None, result.record.failure
    said = [f"{t.speaker.value}: {t.text}" for t in report.transcript]
    record = (await world.api.get(f"/api/calls/{report.call_sid}")).json()
    # What the caller's ear heard and what the platform heard (its recogniser's words, which
    # the caller's report cannot show) are both needed to tell a mishearing from a misreading.
    heard = [f"{t['speaker']}: {t['text']}" for t in record.get("transcript") or []]
    assert result.passed, "\n".join(
        [result.why_failed, "the caller's side:", *said, "the platform's record:", *heard]
    )
    extracted = {k for k, v in record["extracted_data"].items() if v not in (None, "")}
    assert BOOKING_FIELDS <= extracted, (record["extracted_data"], said)
    assert record["status"] == "completed" and record["outcome"] == "goals_met"
    return dict(record)


async def test_kill_9_of_the_realtime_process_mid_booking_is_heard_as_a_short_gap(
    platform: PlatformFactory, nodes: Nodes
) -> None:
    world = await platform(join=False)
    case = await booking_case()
    stack, agent_id = await prepare(world, case)
    # Admission picks the node with the most free slots: the call lands on the victim.
    victim = await nodes.start(world, capacity=20)
    survivor = await nodes.start(world, capacity=5)
    call = asyncio.create_task(place_audio_call(case, stack, world.api, agent_id))
    call_sid = await wait_for(lambda: _latest_call(world), "the call to start")
    await wait_for(lambda: _has(world, call_sid, 1), "the booking under way")
    victim.process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()

    result, report = await asyncio.wait_for(call, 300)
    record = await assert_booked(world, result, report)
    assert report is not None and report.streams == 2, report.notes
    (reconnection,) = report.reconnections
    assert reconnection.agent_heard_at_ms is not None
    heard_at = report.clock_origin_s + reconnection.agent_heard_at_ms / 1000.0
    assert heard_at - killed_at < CRASH_TO_VOICE_S, (heard_at - killed_at, reconnection)
    # The re-entry line as the call recorded it (the caller's simulated ear, Whisper on the
    # agent's audio, mishears it now and then; the record holds what the agent said).
    agent_said = [t["text"] for t in record["transcript"] if t["speaker"] == "agent"]
    assert any(CUT_OFF in text for text in agent_said), agent_said

    # One call in Temporal, its streams on the victim then the survivor, every turn once.
    assert await runs_of(world.temporal, call_sid) == 1
    assert [node for node, _ in await streams_of(world.temporal, call_sid)] == [
        victim.node_id,
        survivor.node_id,
    ]
    seqs = [t["seq"] for t in record["transcript"]]
    assert seqs == sorted(set(seqs))
    completed = await world.receiver.wait_for("/call", timeout=60)
    assert len({r.headers["webhook-id"] for r in completed}) == 1


async def test_sigterm_drains_three_live_calls_to_another_node(
    platform: PlatformFactory, nodes: Nodes
) -> None:
    world = await platform(join=False)
    case = await booking_case()
    stack, agent_id = await prepare(world, case)
    draining = await nodes.start(world, capacity=20, drain_s=6.0)
    survivor = await nodes.start(world, capacity=5)  # less room: the calls go to the other
    calls = [
        asyncio.create_task(place_audio_call(case, stack, world.api, agent_id)) for _ in range(3)
    ]
    await wait_for(lambda: _live_calls(draining, 3), "three calls on the node")
    draining.process.send_signal(signal.SIGTERM)
    signalled_at = time.time()

    outcomes = await asyncio.wait_for(asyncio.gather(*calls), 600)
    for result, report in outcomes:
        await assert_booked(world, result, report)
    assert draining.process.wait(60) == 0, draining.log_text()[-2000:]
    for _result, report in outcomes:
        assert report is not None
        streams = await streams_of(world.temporal, report.call_sid)
        late = [(n, t) for n, t in streams if n == draining.node_id and t > signalled_at]
        assert not late, f"a stream reached the draining node after SIGTERM: {late}"
        assert streams[-1][0] == survivor.node_id


async def test_with_no_room_left_the_caller_hears_busy_and_the_first_call_goes_on(
    platform: PlatformFactory, nodes: Nodes
) -> None:
    world = await platform(join=False)
    case = await booking_case()
    stack, agent_id = await prepare(world, case)
    await nodes.start(world, capacity=1)
    first = asyncio.create_task(place_audio_call(case, stack, world.api, agent_id))
    second = asyncio.create_task(place_audio_call(case, stack, world.api, agent_id))
    outcomes = await asyncio.wait_for(asyncio.gather(first, second), 300)
    admitted = [o for o in outcomes if o[1] is not None]
    refused = [o for o in outcomes if o[1] is None]
    assert len(admitted) == 1 and len(refused) == 1
    await assert_booked(world, *admitted[0])
    failure = refused[0][0].record.failure or ""
    assert BUSY_MESSAGE in failure, failure


async def _latest_call(world: Platform) -> str | None:
    calls = (await world.api.get("/api/calls")).json()
    return str(calls[0]["call_sid"]) if calls else None


async def _has(world: Platform, call_sid: str, fields: int) -> bool:
    return len(await captured(world, call_sid)) >= fields


async def _live_calls(node: RealtimeNode, count: int) -> bool:
    async with httpx.AsyncClient() as http:
        return int((await http.get(f"{node.url}/health")).json()["active_calls"]) >= count
