"""`callwright eval --audio`: the same scenarios by phone audio, against a running stack.

Each scenario is one call placed exactly as Twilio places it (`SimulatedCaller`: the signed
voice webhook, the Media Streams WebSocket, Piper speech, the agent transcribed by Whisper).
The adaptive caller chooses every line from the agent's transcribed words, so what it hears is
what the speech path delivered. Before each line it reads the call's live progress from the API
(what the agent has recorded, for read-backs). The verdict comes from the platform's record once
the workflow has finished: the extracted data and whether every goal was met; latency is the
caller's last word to the agent's first audio, per turn.

The caller's Whisper is primed with the agent's questions (`listening_context`), as a person's
ear is by knowing why they called: the simulator's hearing is not what is under test.

The stack brings its own clock: relative dates resolve against the day it runs, not the
scenario's `today`, so date facts are judged only when the two are the same day (start the
stack with CALLWRIGHT_TODAY=2026-12-01, the scenarios' default, to judge them all).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx

from core.fields import FieldScalar, FieldType
from workers.caller.caller import SimulatedCaller
from workers.caller.errors import CallerError
from workers.caller.records import finished_call
from workers.caller.report import CallReport
from workers.caller.script import HangupStep, SayStep, ScriptStep
from workers.caller.voice import AgentTranscriber
from workers.eval.caller import AdaptiveCaller, CallerLine
from workers.eval.cases import EvalCase
from workers.eval.conversation import (
    AGENT_ENDED,
    CALLER_HUNG_UP,
    MAX_CALLER_TURNS,
    REPEATS_FOR_LOOP,
)
from workers.eval.outcome import ScenarioResult, judge
from workers.eval.record import CallRecord
from workers.eval.report import EvalReport

logger = logging.getLogger(__name__)

# A spoken call of up to 30 turns takes minutes; the record can take a while after it.
MAX_CALL_S: Final = 900.0
RECORD_TIMEOUT_S: Final = 120.0


@dataclass(frozen=True)
class Stack:
    """A running platform to call: its API (with an admin key) and Twilio's auth token."""

    api_url: str
    api_key: str
    auth_token: str
    public_base_url: str | None = None
    """The URL the platform believes Twilio calls (signatures cover it); default `api_url`."""
    today: dt.date | None = None
    """The stack's calendar day (its CALLWRIGHT_TODAY); None = today's date."""
    media_url: str | None = None


async def run_audio_eval(cases: Sequence[EvalCase], stack: Stack, *, brain: str) -> EvalReport:
    """Every case as a phone call to `stack`, one after another (`brain` names the stack's)."""
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    async with httpx.AsyncClient(base_url=stack.api_url, headers=headers, timeout=30) as api:
        agents: dict[str, int] = {}
        results: list[ScenarioResult] = []
        for case in cases:
            key = str(case.agent_file)
            if key not in agents:
                agents[key] = await ensure_agent(api, case)
            results.append(await run_audio_case(case, stack, api, agents[key]))
    return EvalReport(results, brain=brain, level="audio")


async def ensure_agent(api: httpx.AsyncClient, case: EvalCase) -> int:
    """The id of the stack's agent named as `case`'s, created from its document if none is."""
    listed = await api.get("/api/agents")
    listed.raise_for_status()
    for agent in listed.json():
        if agent["name"] == case.agent.name:
            return int(agent["id"])
    created = await api.post("/api/agents", json=json.loads(case.agent_file.read_text()))
    if created.status_code != 201:
        raise CallerError(f"could not create {case.agent_file}: {created.text}")
    return int(created.json()["id"])


async def run_audio_case(
    case: EvalCase, stack: Stack, api: httpx.AsyncClient, agent_id: int
) -> ScenarioResult:
    """One scenario as a phone call, judged on the platform's record of it."""
    result, _report = await place_audio_call(case, stack, api, agent_id)
    return result


async def place_audio_call(
    case: EvalCase, stack: Stack, api: httpx.AsyncClient, agent_id: int
) -> tuple[ScenarioResult, CallReport | None]:
    """`run_audio_case`, with the caller's report of the call (None if it never connected)."""
    case = _judgeable(case, stack.today or dt.date.today())
    call = _AudioCall(case, api)
    caller = SimulatedCaller(
        stack.api_url,
        [],
        auth_token=stack.auth_token,
        agent_id=agent_id,
        public_base_url=stack.public_base_url,
        media_url=stack.media_url,
        http=api,
        max_call_s=MAX_CALL_S,
        transcriber=AgentTranscriber(context=listening_context(case)),
        respond=call.respond,
    )
    call.call_sid = caller.call_sid
    try:
        report = await caller.run()
    except CallerError as exc:
        record = CallRecord(end_reason=f"the call failed: {exc}", failure=f"the call failed: {exc}")
        return judge(case, record), None
    return judge(case, await call.finish(report)), report


class _AudioCall:
    """The adaptive caller on one phone call, and the record it keeps."""

    def __init__(self, case: EvalCase, api: httpx.AsyncClient) -> None:
        self.case = case
        self.api = api
        self.call_sid = ""
        self.caller = AdaptiveCaller(case.scenario, case.fields, case.truths)
        self.lines: list[CallerLine] = []
        self.failure: str | None = None
        self._recent: list[str] = []

    async def respond(self, agent_words: str) -> list[ScriptStep]:
        """The next line for what the agent just said; none to hang up."""
        self._recent = [*self._recent, " ".join(agent_words.lower().split())][-REPEATS_FOR_LOOP:]
        if len(self._recent) == REPEATS_FOR_LOOP and len(set(self._recent)) == 1:
            self.failure = (
                f"stuck in a loop: the agent said the same thing {REPEATS_FOR_LOOP} times in a row"
            )
            return []
        if len(self.lines) >= MAX_CALLER_TURNS:
            self.failure = (
                f"stuck in a loop: the call had not ended after {MAX_CALLER_TURNS} caller turns"
            )
            return []
        for name, value in (await self._recorded()).items():
            self.caller.note_captured(name, value)
        line = self.caller.next_line(agent_words)
        self.lines.append(line)
        if line.failure is not None:
            self.failure = line.failure
        steps: list[ScriptStep] = [SayStep(say=line.text)]
        return [*steps, HangupStep()] if line.hangup else steps

    async def _recorded(self) -> dict[str, FieldScalar]:
        """What the agent has recorded so far, from the call's live progress."""
        try:
            response = await self.api.get(f"/api/calls/{self.call_sid}")
        except httpx.HTTPError:
            return {}
        if response.status_code != 200:
            return {}
        progress = response.json().get("progress") or {}
        return _scalars(progress.get("captured") or {})

    async def finish(self, report: CallReport) -> CallRecord:
        """The call's record: transcript with latencies, and the platform's verdict."""
        record = CallRecord(failure=self.failure, caller_turns=len(self.lines))
        notes = iter(self.lines)
        for entry in report.transcript:
            if entry.speaker == "agent":
                record.say("agent", entry.text, latency_ms=entry.latency_ms)
            else:
                line = next(notes, None)
                record.say("caller", entry.text, "" if line is None else line.heard.note)
        if report.ended_by == "timeout":
            record.failure = record.failure or "the call passed its time limit"
        record.end_reason = record.failure or (
            AGENT_ENDED if report.ended_by == "agent" else CALLER_HUNG_UP
        )
        record.unused_moves = [f"{m.on}: {m.say}" for m in self.caller.unused_moves]
        try:
            final = await finished_call(self.api, report.call_sid, timeout_s=RECORD_TIMEOUT_S)
        except (TimeoutError, httpx.HTTPError) as exc:
            record.failure = record.failure or f"no final record of the call: {exc}"
            return record
        record.captured = _scalars(final.get("extracted_data") or {})
        record.completed = final.get("outcome") == "goals_met"
        return record


def listening_context(case: EvalCase) -> str:
    """What the caller expects to hear, to bias its Whisper: the agent's questions (its fields'
    asks) and what they are about, as a person calling knows what such a line asks."""
    asks = [f.ask for f in case.fields.values() if f.ask]
    topics = [f.description or f.name.replace("_", " ") for f in case.fields.values()]
    return " ".join([*asks, *topics])


def _judgeable(case: EvalCase, stack_today: dt.date) -> EvalCase:
    """`case` with its date facts left out when the stack's day is not the scenario's."""
    if case.scenario.today == stack_today:
        return case
    truths = {
        name: truth
        for name, truth in case.truths.items()
        if case.fields[name].type is not FieldType.DATE
    }
    if len(truths) != len(case.truths):
        logger.info(
            "%s: date facts not judged (the stack's today is %s, the scenario's %s)",
            case.scenario.id,
            stack_today,
            case.scenario.today,
        )
    return dataclasses.replace(case, truths=truths)


def _scalars(values: dict[str, Any]) -> dict[str, FieldScalar]:
    return {k: v for k, v in values.items() if isinstance(v, str | float | int | bool)}
