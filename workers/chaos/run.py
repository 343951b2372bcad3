"""`python -m workers.chaos`: calls in flight through crashes and deploys, measured.

Starts a whole stack as real processes (`DevStack`: Temporal, PostgreSQL, Redis, the API, a
worker and two realtime nodes), a webhook receiver, and the scenarios' agents with their
webhooks pointed at it. Then, for each fault in turn (`faults.FAULTS`), it phones `--calls`
simulated callers in at once by audio, waits until every call has captured a field, injects the
fault, brings the part back, and waits for every call, its final record and its webhooks; each
call is checked (`checks`) and the findings are printed and, with `--markdown`, written to the
`## Chaos` section of RELIABILITY.md (`report`). It exits 1 if any call, turn or webhook was
lost, or a record was left open; 2 if the stack did not start (`command`).

The first realtime node is given more room than the second, so every call of a round rings on
it (the registry sends a call to the node with the most free slots): a realtime fault then hits
every call of the round, and the second node takes them all over.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from rich.console import Console

from workers.caller.report import CallReport
from workers.caller.sink import WebhookSink, run_webhook_sink
from workers.chaos.checks import (
    CallCheck,
    FaultResult,
    call_verdict,
    expected_turns,
    goals_met,
    match_turns,
    tally_webhooks,
)
from workers.chaos.faults import (
    Fault,
    FaultError,
    StackControl,
    inject,
)
from workers.eval.audio import Stack, place_audio_call
from workers.eval.cases import EvalCase, load_cases
from workers.eval.outcome import ScenarioResult
from workers.services import ServiceError, find_free_port
from workers.stack import DevStack, StackPorts, local_settings

logger = logging.getLogger(__name__)

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
_SCENARIOS: Final = REPO_ROOT / "tests" / "eval" / "scenarios"
# Proven by phone audio on this machine (tests/scenarios): their calls complete on a quiet stack,
# so a call that does not complete here was broken by the fault.
DEFAULT_SCENARIOS: Final = (
    _SCENARIOS / "dental_clinic" / "dent-cleaning-friday-two-ish.yaml",
    _SCENARIOS / "appointment_scheduler" / "appt-three-facts-at-once.yaml",
    _SCENARIOS / "appointment_scheduler" / "appt-identical-cleaning-slip.yaml",
    _SCENARIOS / "appointment_scheduler" / "appt-hold-on-calendar.yaml",
    _SCENARIOS / "appointment_scheduler" / "appt-readback-make-it-four.yaml",
)
DEFAULT_DOWN_S: Final = 5.0
DEFAULT_DRAIN_S: Final = 3.0
TODAY: Final = dt.date(2026, 12, 1)
"""The scenarios' day: the children run on it, so date facts are judged too."""
# More room on the first node than the second: every call of a round rings there.
NODE_CAPACITIES: Final = (100, 50)
NEW_CALLS_TIMEOUT_S: Final = 120.0
MID_CALL_TIMEOUT_S: Final = 180.0
CALL_TIMEOUT_S: Final = 1200.0
RECORD_TIMEOUT_S: Final = 240.0
WEBHOOK_TIMEOUT_S: Final = 180.0
# After the last expected webhook: time for a duplicate under another id to show itself.
WEBHOOK_SETTLE_S: Final = 3.0
POLL_S: Final = 0.5
API_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True)
class ChaosOptions:
    """What to run: how many calls per fault, which faults, on which scenarios, where."""

    calls: int
    faults: Sequence[Fault]
    scenarios: Sequence[Path] = DEFAULT_SCENARIOS
    down_s: float = DEFAULT_DOWN_S
    """How long a killed part stays down before it is started again."""
    drain_s: float = DEFAULT_DRAIN_S
    """REALTIME_DRAIN_S: how long a draining node lets its calls finish before handing over."""


@dataclass
class _Placed:
    """One call of a round as the caller saw it."""

    case: EvalCase
    result: ScenarioResult | None = None
    report: CallReport | None = None
    failure: str = ""


@dataclass
class ChaosRun:
    """One run against a started stack: the rounds, one per fault."""

    options: ChaosOptions
    control: StackControl
    api: httpx.AsyncClient
    sink: WebhookSink
    target: Stack
    cases: list[EvalCase]
    console: Console
    evidence_dir: Path
    """Where each call's report, record and webhooks are kept as JSON, to read after a run."""
    agents: dict[Path, int] = field(default_factory=dict)

    async def create_agents(self) -> None:
        """Each scenario's agent, its webhooks (`call.completed`, and every goal's
        `goal.completed`) sent to the receiver."""
        for case in self.cases:
            if case.agent_file in self.agents:
                continue
            document = json.loads(case.agent_file.read_text())
            document["webhook_urls"] = [f"{self.sink.url}/call"]
            for goal in document.get("goals", []):
                if isinstance(goal, dict):
                    goal["completion_webhook"] = f"{self.sink.url}/goal"
            created = await self.api.post("/api/agents", json=document)
            if created.status_code != 201:
                raise ServiceError(f"could not create {case.agent_file.name}: {created.text}")
            self.agents[case.agent_file] = int(created.json()["id"])
        await self.sink.learn_secrets(self.api)  # each webhook URL has its own signing secret

    async def run(self) -> list[FaultResult]:
        """Every fault in turn."""
        results: list[FaultResult] = []
        for number, fault in enumerate(self.options.faults):
            self.console.print(f"[bold]{fault.name}[/bold]: {fault.summary}")
            started = time.monotonic()
            result = await self.round(number, fault)
            self.console.print(
                f"  {result.completed}/{len(result.calls)} completed "
                f"({result.goals_met} with their goals met), "
                f"{result.turns_lost} turns lost, {result.webhooks_lost} webhooks lost "
                f"({time.monotonic() - started:.0f} s)"
            )
            results.append(result)
        return results

    async def round(self, number: int, fault: Fault) -> FaultResult:
        """`calls` calls at once through `fault`, checked."""
        count = self.options.calls
        cases = [self.cases[(number * count + i) % len(self.cases)] for i in range(count)]
        known = set(await self._call_sids())
        placed = [_Placed(case) for case in cases]
        calls = [
            asyncio.create_task(self._place(p), name=f"chaos-call-{i}")
            for i, p in enumerate(placed)
        ]
        problems: list[str] = []
        sids = await self._new_calls(known, count, calls)
        if not await self._mid_call(sids, calls):
            problems.append("not every call had captured a field when the fault came")
        injecting = asyncio.create_task(
            inject(fault, self.control, down_s=self.options.down_s, drain_s=self.options.drain_s)
        )
        await asyncio.gather(*calls)
        action = fault.summary
        try:
            action = (await injecting).describe()
        except (FaultError, ServiceError) as exc:
            problems.append(f"the fault did not go as planned: {exc}")
        dead = self.control.dead()
        if dead:
            problems.append(f"not running after the round: {', '.join(dead)}")
            await self.control.revive()
        result = FaultResult(fault.name, action, problems=problems)
        unseen = [sid for sid in sids if sid not in {p.report.call_sid for p in placed if p.report}]
        records: dict[str, dict[str, Any] | None] = {}
        for call in placed:
            sid = call.report.call_sid if call.report else (unseen.pop(0) if unseen else "")
            records[sid] = await self._final_record(sid) if sid else None
            result.calls.append(self._check(call, sid, records[sid]))
        await self._webhooks(result, records)
        self._keep(fault, placed, result, records)
        return result

    def _keep(
        self,
        fault: Fault,
        placed: Sequence[_Placed],
        result: FaultResult,
        records: dict[str, dict[str, Any] | None],
    ) -> None:
        """Each call's evidence: `<evidence_dir>/<fault>-<n>-<call sid>.json`."""
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        for number, (call, check) in enumerate(zip(placed, result.calls, strict=True)):
            sid = check.call_sid
            webhooks = [
                {"path": w.path, "webhook_id": w.headers.get("webhook-id"), "body": w.payload}
                for w in self.sink.received
                if isinstance(w.payload, dict)
                and (w.payload.get("data") or {}).get("call_sid") == sid
            ]
            evidence = {
                "fault": fault.name,
                "scenario": call.case.scenario.id,
                "check": dataclasses.asdict(check),
                "report": call.report.to_dict() if call.report is not None else None,
                "record": records.get(sid),
                "webhooks": webhooks,
            }
            path = self.evidence_dir / f"{fault.name}-{number + 1}-{sid}.json"
            path.write_text(json.dumps(evidence, indent=2, default=str))

    async def _place(self, call: _Placed) -> None:
        agent_id = self.agents[call.case.agent_file]
        try:
            call.result, call.report = await asyncio.wait_for(
                place_audio_call(call.case, self.target, self.api, agent_id), CALL_TIMEOUT_S
            )
        except Exception as exc:  # noqa: BLE001 - a caller that breaks is a lost call, reported
            logger.exception("the call for %s failed", call.case.scenario.id)
            call.failure = f"the caller failed: {exc!r}"

    async def _call_sids(self) -> list[str]:
        """Every call the platform has recorded, newest first ([] while the API is away)."""
        try:
            response = await self.api.get("/api/calls")
        except httpx.HTTPError:
            return []
        if response.status_code != 200:
            return []
        return [str(call["call_sid"]) for call in response.json()]

    async def _new_calls(
        self, known: set[str], count: int, calls: Sequence[asyncio.Task[None]]
    ) -> list[str]:
        """The sids of this round's calls, once the platform has recorded them."""
        deadline = time.monotonic() + NEW_CALLS_TIMEOUT_S
        new: list[str] = []
        while time.monotonic() < deadline and not all(c.done() for c in calls):
            new = [sid for sid in await self._call_sids() if sid not in known]
            if len(new) >= count:
                break
            await asyncio.sleep(POLL_S)
        return new

    async def _mid_call(self, sids: Sequence[str], calls: Sequence[asyncio.Task[None]]) -> bool:
        """Wait until every call has captured a field (or ended); False on timeout."""
        deadline = time.monotonic() + MID_CALL_TIMEOUT_S
        waiting = set(sids)
        while time.monotonic() < deadline:
            if all(c.done() for c in calls):
                return True
            for sid in list(waiting):
                try:
                    response = await self.api.get(f"/api/calls/{sid}")
                except httpx.HTTPError:
                    continue
                if response.status_code != 200:
                    continue
                call = response.json()
                progress = call.get("progress") or {}
                if progress.get("captured") or call.get("status") == "completed":
                    waiting.discard(sid)
            if not waiting and len(sids) == len(calls):
                return True
            await asyncio.sleep(POLL_S)
        return False

    async def _final_record(self, sid: str) -> dict[str, Any] | None:
        """The call's record once closed; the last one seen if it never closes (None: none)."""
        deadline = time.monotonic() + RECORD_TIMEOUT_S
        record: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            try:
                response = await self.api.get(f"/api/calls/{sid}")
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 200:
                record = response.json()
                if record.get("status") == "completed":
                    return record
            await asyncio.sleep(POLL_S)
        return record

    def _check(self, call: _Placed, sid: str, record: dict[str, Any] | None) -> CallCheck:
        result, report = call.result, call.report
        end_reason = str((record or {}).get("end_reason") or "")
        completed, goals, why = call_verdict(result, call.failure, end_reason)
        check = CallCheck(
            call_sid=sid or "(never recorded)",
            scenario=call.case.scenario.id,
            completed=completed,
            why=why,
            goals_met=goals,
            end_reason=end_reason,
            finalised=record is not None and record.get("status") == "completed",
        )
        if result is not None:
            check.facts = len(result.checks)
            check.facts_right = sum(c.correct for c in result.checks)
        if report is not None:
            check.streams = report.streams
            check.gaps_ms = [r.gap_ms for r in report.reconnections]
            expected = expected_turns(report)
            missing = match_turns(expected, (record or {}).get("transcript") or [])
            check.turns = len(expected)
            check.turns_lost = [turn for turn in missing if not turn.partial]
            check.cut_off = [turn for turn in missing if turn.partial]
        return check

    async def _webhooks(
        self, result: FaultResult, records: dict[str, dict[str, Any] | None]
    ) -> None:
        """Wait for every call's webhooks (or the time limit), then tally them."""
        goals = {sid: goals_met(record or {}) for sid, record in records.items()}
        deadline = time.monotonic() + WEBHOOK_TIMEOUT_S
        while time.monotonic() < deadline:
            if not any(
                tally_webhooks(sid, self.sink.received, goals[sid]).lost for sid in goals if sid
            ):
                break
            await asyncio.sleep(POLL_S)
        await asyncio.sleep(WEBHOOK_SETTLE_S)
        for check in result.calls:
            if check.call_sid in goals:
                check.webhooks = tally_webhooks(
                    check.call_sid, self.sink.received, goals[check.call_sid]
                )
            else:
                check.webhooks = tally_webhooks("", [], [])  # never recorded: nothing expected


def _call_of(payload: Any) -> str | None:
    data = payload.get("data") if isinstance(payload, dict) else None
    return str(data.get("call_sid")) if isinstance(data, dict) else None


def build_stack(data_dir: Path, drain_s: float) -> DevStack:
    """The stack a chaos run crashes: two realtime nodes, the guided brain, the scenarios' day."""
    ports = StackPorts(*(find_free_port() for _ in range(6)), more_realtime=(find_free_port(),))
    settings = local_settings().model_copy(update={"database_url": None, "redis_url": None})
    return DevStack(
        settings,
        data_dir=data_dir,
        ports=ports,
        headless=True,
        child_env={
            "BRAIN": "guided",
            "CALLWRIGHT_TODAY": TODAY.isoformat(),
            "REALTIME_DRAIN_S": f"{drain_s:g}",
            # Loopback addresses the callers reach and sign, whatever the user's tunnel is.
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports.api}",
            "REALTIME_PUBLIC_URL": f"http://127.0.0.1:{ports.realtime}",
        },
        node_env=[{"MAX_CONCURRENT_CALLS": str(n)} for n in NODE_CAPACITIES],
    )


async def run_chaos(options: ChaosOptions, data_dir: Path, console: Console) -> list[FaultResult]:
    """Start the stack in `data_dir`, run every round, stop the stack."""
    cases = load_cases(list(options.scenarios))
    stack = build_stack(data_dir, options.drain_s)
    control = StackControl(stack)
    started = time.monotonic()
    try:
        info = await control.start()
        console.print(f"stack up in {time.monotonic() - started:.0f} s (logs in {stack.log_dir})")
        assert stack.dev_key is not None
        settings = stack.settings
        secret = settings.webhook_signing_secret.get_secret_value()
        headers = {"Authorization": f"Bearer {stack.dev_key}"}
        async with (
            run_webhook_sink(secret=secret) as sink,
            httpx.AsyncClient(base_url=info.api_url, headers=headers, timeout=API_TIMEOUT_S) as api,
        ):
            target = Stack(
                api_url=info.api_url,
                api_key=stack.dev_key,
                auth_token=settings.twilio_auth_token.get_secret_value(),
                today=TODAY,
            )
            run = ChaosRun(
                options, control, api, sink, target, cases, console, data_dir / "evidence"
            )
            await run.create_agents()
            return await run.run()
    finally:
        await control.stop()
