"""What `callwright demo` shows once its throw-away stack is up: the example agents, then one
real simulated call.

Every example agent is created through the API and its compiled prompt printed. The
Appointment Scheduler's webhooks (its goal's `completion_webhook` and the agent's
`webhook_urls`) point at a loopback `WebhookSink` started first. A `SimulatedCaller` then rings
that agent as Twilio would — the signed voice webhook to the API, then a Media Stream over a real
WebSocket to the realtime server — and books a cleaning with the guided brain (a day, a time and
the service: the data the plan's document implies). Printed after it: the transcript and the
latency of each turn, both webhooks as the sink received them, and the call's workflow in the
Temporal UI.

`cli.py` owns the stack and the signals; this module only talks to the running stack.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx
from rich.console import Console
from rich.markup import escape

from core.calls.types import WebhookEvent, call_workflow_id
from core.settings import BrainName, Settings
from workers.stack import StackInfo, StackPorts, log_tail

if TYPE_CHECKING:
    from workers.caller.sink import ReceivedWebhook

__all__ = [
    "BOOKING_LINES",
    "DEMO_AGENT_FILE",
    "DemoError",
    "demo_child_env",
    "print_failure",
    "run_demo",
]

DEMO_AGENT_FILE: Final = "appointment_scheduler.json"
# The plan's Appointment Scheduler names its domain "medical_appointments": the demo fills it
# with the sample dental clinic's facts, processes and policies before the agent is created.
DEMO_KNOWLEDGE: Final = (
    Path(__file__).resolve().parents[1] / "examples/knowledge/dental_clinic.json"
)
DEMO_DOMAIN: Final = "medical_appointments"
INDEXING_WAIT_S: Final = 120.0
# The call goes to the plan's Appointment Scheduler exactly as the plan writes it: its goal lists
# success criteria and no required data, so the data is inferred from the criteria, in their
# order (`core.fields.inference`): date, time, service. The guided brain asks for each in turn
# and then reads the booking back for a yes; one line answers each question. Each line ends
# with what it answers: on a loaded machine the server's transcript can miss a line's first half
# second ("At three in the afternoon" came back as "in the afternoon"), and the words Whisper
# hears reliably from the caller's Piper voice are chosen ("teeth cleaning" was not). The brain
# reads every open field from every line, so only the service's line says anything a service
# could be read from ("I would like next Tuesday, please" booked the service "please"). The
# service's line starts with words that can be lost: "A dental cleaning" with its first 40 ms
# cut came back "identical cleaning" (and so it was booked, once, in CI), "It's for a dental
# cleaning" cut by 40 to 200 ms still "for a dental cleaning".
BOOKING_LINES: Final = (
    "Let's do next Tuesday.",
    "Let's say three in the afternoon.",
    "It's for a dental cleaning.",
    "Yes, that's right.",
)
# `goal.completed` leaves the worker mid-call, `call.completed` once the ended call has been
# analysed; both go through the delivery activity, so they may trail the hang-up by seconds.
# The call's webhook is waited for even when the goal's never came: its body shows what the
# call captured.
WEBHOOK_WAITS_S: Final = ((WebhookEvent.GOAL_COMPLETED, 30.0), (WebhookEvent.CALL_COMPLETED, 60.0))
API_TIMEOUT_S: Final = 30.0
MAX_CALL_S: Final = 240.0
# The stack's logs live in the demo's temporary folder and go with it: show these on failure.
FAILURE_LOGS: Final = ("realtime", "worker", "api")
FAILURE_LOG_LINES: Final = 15
SIGNATURE_STATES: Final = {True: "signature valid", False: "SIGNATURE INVALID", None: "unchecked"}


class DemoError(Exception):
    """The demo could not show what it promises; the message says what went wrong."""


def demo_child_env(ports: StackPorts) -> dict[str, str]:
    """What the demo stack's children run with, whatever the user's environment says: the
    guided brain the booking lines are written for, and loopback URLs the simulated caller can
    reach and sign (a user's tunnel address would send the media stream elsewhere)."""
    return {
        "BRAIN": BrainName.GUIDED.value,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports.api}",
        "REALTIME_PUBLIC_URL": f"http://127.0.0.1:{ports.realtime}",
    }


async def run_demo(
    settings: Settings, info: StackInfo, api_key: str, documents: Sequence[Path]
) -> None:
    """Create the agents in `documents`, call the Appointment Scheduler, print what happened.

    Raises `DemoError` if the call did not take place, did not complete the goal, or a
    webhook never arrived (everything observed is printed first).
    """
    # Imported here: they load the speech engines, which the rest of the CLI does without.
    from workers.caller.caller import SimulatedCaller
    from workers.caller.errors import CallerError
    from workers.caller.report import render
    from workers.caller.script import script_from_lines
    from workers.caller.sink import run_webhook_sink

    out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    secret = settings.webhook_signing_secret.get_secret_value()
    headers = {"Authorization": f"Bearer {api_key}"}
    async with (
        run_webhook_sink(secret=secret) as sink,
        httpx.AsyncClient(base_url=info.api_url, headers=headers, timeout=API_TIMEOUT_S) as api,
    ):
        await load_sample_knowledge(api, out)
        agent_ids = await _create_agents(api, documents, sink_url=sink.url, out=out)
        await sink.learn_secrets(api)  # each webhook URL has its own signing secret
        agent_id = agent_ids.get(DEMO_AGENT_FILE)
        if agent_id is None:
            raise DemoError(f"no {DEMO_AGENT_FILE} among the agent documents to call")
        caller = SimulatedCaller(
            info.api_url,
            script_from_lines(BOOKING_LINES),
            auth_token=settings.twilio_auth_token.get_secret_value(),
            agent_id=agent_id,
            transcribe=True,
            max_call_s=MAX_CALL_S,
        )
        _line(out, f"===== a simulated call books an appointment (agent {agent_id}) =====")
        try:
            report = await caller.run()
        except CallerError as exc:
            raise DemoError(f"the simulated call did not take place: {exc}") from exc
        render(report, out)
        received = {kind: await sink.wait_for(kind, wait_s) for kind, wait_s in WEBHOOK_WAITS_S}

    problems = [
        problem
        for kind, wait_s in WEBHOOK_WAITS_S
        if (problem := _show_webhook(out, kind, received[kind], wait_s)) is not None
    ]
    _line(out)
    _line(out, f"Temporal UI: {_workflow_url(settings, info, report.call_sid)}")
    _line(out, "(the demo's stack stops now: `make dev` and `callwright call` keep one to browse)")
    if problems:
        raise DemoError("; ".join(problems))


def _show_webhook(
    out: Console, kind: WebhookEvent, webhook: ReceivedWebhook | None, waited_s: float
) -> str | None:
    """Print one webhook as the sink received it; what is wrong with it, if anything."""
    _line(out)
    if webhook is None:
        _line(out, f"===== webhook {kind}: none arrived =====")
        why = " (the call did not complete its goal)" if kind is WebhookEvent.GOAL_COMPLETED else ""
        return f"no {kind} webhook within {waited_s:.0f} s of the call's end{why}"
    signature = SIGNATURE_STATES[webhook.verified]
    _line(out, f"===== webhook {kind}: POST {webhook.path} ({signature}) =====")
    _line(out, json.dumps(webhook.payload, indent=2, ensure_ascii=False))
    if webhook.verified is False:
        return f"the {kind} webhook's signature did not verify"
    return None


async def load_sample_knowledge(api: httpx.AsyncClient, out: Console) -> None:
    """The sample dental domain, imported as the Appointment Scheduler's `medical_appointments`
    and indexed by the worker (its progress waited for), then one question it answers."""
    document: dict[str, Any] = json.loads(DEMO_KNOWLEDGE.read_text())  # noqa: ASYNC240 - small
    domain = await api.post(
        "/api/domains",
        json={"name": DEMO_DOMAIN, "description": document["domain"]["description"]},
    )
    if domain.status_code != 201:
        raise DemoError(f"POST /api/domains answered {domain.status_code}: {domain.text}")
    domain_id = domain.json()["id"]
    imported = await api.post(
        f"/api/domains/{domain_id}/knowledge", json={"items": document["items"]}
    )
    if imported.status_code not in (201, 202):
        raise DemoError(f"importing {DEMO_KNOWLEDGE.name} answered {imported.status_code}")
    deadline = time.monotonic() + INDEXING_WAIT_S
    while (progress := (await api.get(f"/api/domains/{domain_id}/progress")).json())["pending"]:
        if time.monotonic() > deadline:
            raise DemoError(f"{progress['pending']} knowledge items still not indexed")
        await asyncio.sleep(0.5)
    question = "are you open on saturdays?"
    hits = (await api.get(f"/api/domains/{domain_id}/search", params={"q": question})).json()
    _line(out, f"===== knowledge: {DEMO_DOMAIN} ({progress['indexed']} items indexed) =====")
    _line(out, f"a caller asks {question!r}; the best match ({hits[0]['why']}):")
    _line(out, f"  {hits[0]['content']}")
    _line(out)


async def _create_agents(
    api: httpx.AsyncClient, documents: Sequence[Path], *, sink_url: str, out: Console
) -> dict[str, int]:
    """Create each agent, print its compiled prompt; the ids by document file name."""
    ids: dict[str, int] = {}
    for path in documents:
        document: dict[str, Any] = json.loads(path.read_text())
        if path.name == DEMO_AGENT_FILE:
            for goal in document.get("goals", []):
                goal["completion_webhook"] = f"{sink_url}/goal"
            document["webhook_urls"] = [f"{sink_url}/call"]
        created = await api.post("/api/agents", json=document)
        if created.status_code != 201:
            raise DemoError(
                f"POST /api/agents with {path.name} answered {created.status_code}: " + created.text
            )
        agent = created.json()
        prompt = (await api.get(f"/api/agents/{agent['id']}/prompt")).raise_for_status().json()
        _line(out, f"===== {agent['name']} (agent {agent['id']}, from {path.name}) =====")
        _line(out, prompt["prompt"])
        _line(out)
        ids[path.name] = int(agent["id"])
    return ids


def _line(out: Console, text: str = "") -> None:
    """One line on stdout as it is: no markup, no colouring, never wrapped (URLs stay whole)."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def _workflow_url(settings: Settings, info: StackInfo, call_sid: str) -> str:
    if not info.temporal_ui_url:
        return "(the stack ran without the Temporal UI)"
    return (
        f"{info.temporal_ui_url.rstrip('/')}/namespaces/{settings.temporal_namespace}"
        f"/workflows/{call_workflow_id(call_sid)}"
    )


def print_failure(error: DemoError, log_dir: Path, console: Console) -> None:
    """Say why the demo failed, with the end of the logs that will be deleted with the stack."""
    console.print("[red]demo failed:[/red]", escape(str(error)), highlight=False)
    for name in FAILURE_LOGS:
        console.print(f"--- last lines of {name}.log ---", markup=False, highlight=False)
        tail = log_tail(log_dir / f"{name}.log", FAILURE_LOG_LINES)
        console.print(tail, markup=False, highlight=False)
