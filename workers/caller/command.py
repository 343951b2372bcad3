"""`callwright call`: ring an agent with the simulated caller and show what happened.

    callwright call --agent "Bright Smile Dental" --say "Hi, I'd like a cleaning." \\
        --say "Next Tuesday at three, please."
    callwright call --agent-id 1 --script booking.json --json

Against the dev stack by default: its API URL and development key come from `stack.json` and
`dev-api-key` in the data folder. Human output (transcript, latency table, goal progress) goes
to stdout; `--json` puts the report there instead, for scripts.

Heavy imports (the speech engines, websockets) happen inside the command, so registering it
costs the rest of the CLI nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import httpx
import typer
from rich.console import Console
from rich.table import Table

from core.settings import Settings
from workers.stack import local_settings

if TYPE_CHECKING:
    from workers.caller.script import ScriptStep
    from workers.caller.sink import ReceivedWebhook, WebhookSink

__all__ = ["call"]

_errors = Console(stderr=True)
# The call record is written by the workflow's first activity; give it a moment to appear.
RECORD_WAIT_S: Final = 5.0
API_TIMEOUT_S: Final = 15.0


class _UsageError(Exception):
    """Something the user can fix on the command line (exit code 2)."""


def call(
    agent: Annotated[
        str | None, typer.Option("--agent", help="The agent's name, as GET /api/agents lists it")
    ] = None,
    agent_id: Annotated[int | None, typer.Option("--agent-id", help="The agent's id")] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Call this number; the agent that owns it answers")
    ] = None,
    say: Annotated[
        list[str] | None, typer.Option("--say", help="A line for the caller (repeatable)")
    ] = None,
    script: Annotated[
        Path | None,
        typer.Option("--script", exists=True, dir_okay=False, help="A JSON script of steps"),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(help="The API (default: the dev stack's, else API_HOST:API_PORT)"),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="CALLWRIGHT_API_KEY", help="An admin API key (default: the dev stack's)"
        ),
    ] = None,
    public_base_url: Annotated[
        str | None,
        typer.Option(help="The URL the platform thinks Twilio calls (default: PUBLIC_BASE_URL)"),
    ] = None,
    media_url: Annotated[
        str | None, typer.Option(help="Open this media WebSocket instead of the TwiML's")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="The dev stack's folder (default: CALLWRIGHT_DATA_DIR)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    sink_port: Annotated[
        int | None,
        typer.Option(help="Receive webhooks on 127.0.0.1:PORT during the call and show them"),
    ] = None,
    sink_wait: Annotated[
        float, typer.Option(help="Seconds to wait after the call for call.completed")
    ] = 15.0,
    max_call_seconds: Annotated[float, typer.Option(help="Hang up after this long")] = 300.0,
) -> None:
    """Call an agent with a simulated caller speaking Twilio's Media Streams protocol; print
    the transcript, latency per turn and goal progress."""
    try:
        settings = local_settings()  # development unless CALLWRIGHT_ENV says otherwise
    except ValueError as exc:
        _errors.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        steps = _steps(say, script)
        if agent is None and agent_id is None and to is None:
            raise _UsageError("say whom to call: --agent NAME, --agent-id ID or --to NUMBER")
        folder = data_dir or settings.data_dir
        from workers.stack import dev_key, stack_api_url

        base = api_url or stack_api_url(settings, folder)
        key = api_key or dev_key(folder)
        code = asyncio.run(
            _call(
                settings,
                steps,
                api_url=base,
                api_key=key,
                agent=agent,
                agent_id=agent_id,
                to=to,
                public_base_url=public_base_url or settings.public_base_url or base,
                media_url=media_url,
                as_json=as_json,
                sink_port=sink_port,
                sink_wait=sink_wait,
                max_call_s=max_call_seconds,
            )
        )
    except _UsageError as exc:
        _errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    raise typer.Exit(code)


def _steps(say: list[str] | None, script: Path | None) -> list[ScriptStep]:
    from workers.caller.script import ScriptError, load_script, script_from_lines

    if bool(say) == (script is not None):
        raise _UsageError("give the caller's lines with --say (repeatable) or --script FILE")
    try:
        return load_script(script) if script is not None else script_from_lines(say or [])
    except ScriptError as exc:
        raise _UsageError(str(exc)) from exc


async def _call(
    settings: Settings,
    steps: list[ScriptStep],
    *,
    api_url: str,
    api_key: str | None,
    agent: str | None,
    agent_id: int | None,
    to: str | None,
    public_base_url: str,
    media_url: str | None,
    as_json: bool,
    sink_port: int | None,
    sink_wait: float,
    max_call_s: float,
) -> int:
    from workers.caller.caller import SimulatedCaller
    from workers.caller.errors import CallerError
    from workers.caller.report import render

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(headers=headers, timeout=API_TIMEOUT_S) as http:
        if agent is not None:
            agent_id = await _agent_id(http, api_url, agent, has_key=api_key is not None)
        caller = SimulatedCaller(
            api_url,
            steps,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            agent_id=agent_id,
            to_number=to,
            public_base_url=public_base_url,
            media_url=media_url,
            http=http,
            max_call_s=max_call_s,
        )
        secret = settings.webhook_signing_secret.get_secret_value()
        async with _maybe_sink(sink_port, secret) as sink:
            if sink is not None and api_key:
                # Each webhook URL has its own signing secret; the agent made them already.
                async with httpx.AsyncClient(base_url=api_url, headers=headers) as api:
                    await sink.learn_secrets(api)
            if not as_json:
                _errors.print(f"calling as {caller.call_sid} through {api_url} …")
            try:
                report = await caller.run()
            except CallerError as exc:
                _errors.print(f"[red]the call failed:[/red] {exc}")
                return 1
            record = await _call_record(http, api_url, report.call_sid) if api_key else None
            if sink is not None:
                await sink.wait_for("call.completed", sink_wait)
        webhooks = [_webhook_summary(w) for w in sink.received] if sink is not None else None
    if as_json:
        document = {"report": report.to_dict(), "call": record, "webhooks": webhooks}
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
        return 0
    console = Console()
    render(report, console)
    _render_record(console, record, has_key=api_key is not None)
    if webhooks is not None:
        _render_webhooks(console, webhooks)
    return 0


async def _agent_id(http: httpx.AsyncClient, api_url: str, name: str, *, has_key: bool) -> int:
    try:
        response = await http.get(f"{api_url.rstrip('/')}/api/agents")
    except httpx.HTTPError as exc:
        raise _UsageError(f"could not reach the API at {api_url}: {exc}") from exc
    if response.status_code == 401:
        advice = "the key was refused" if has_key else "no API key"
        raise _UsageError(f"{advice}: pass --api-key (or start `callwright dev`)")
    response.raise_for_status()
    agents: list[dict[str, Any]] = response.json()
    matches = [a for a in agents if a["name"] == name] or [
        a for a in agents if a["name"].casefold() == name.casefold()
    ]
    if len(matches) == 1:
        return int(matches[0]["id"])
    if matches:
        ids = ", ".join(str(a["id"]) for a in matches)
        raise _UsageError(f"several agents are named {name!r} (ids {ids}); use --agent-id")
    known = ", ".join(repr(a["name"]) for a in agents) or "none yet"
    raise _UsageError(f"no agent named {name!r}; agents: {known}")


async def _call_record(http: httpx.AsyncClient, api_url: str, call_sid: str) -> Any:
    """`GET /api/calls/{call_sid}`, waiting briefly for the record to appear; None if it
    does not."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECORD_WAIT_S
    while True:
        try:
            response = await http.get(f"{api_url.rstrip('/')}/api/calls/{call_sid}")
        except httpx.HTTPError:
            return None
        if response.status_code == 200:
            return response.json()
        if response.status_code != 404 or loop.time() > deadline:
            return None
        await asyncio.sleep(0.5)


@asynccontextmanager
async def _maybe_sink(port: int | None, secret: str) -> AsyncIterator[WebhookSink | None]:
    if port is None:
        yield None
        return
    from workers.caller.sink import run_webhook_sink
    from workers.services import PortBusyError, check_port_free

    try:
        check_port_free("127.0.0.1", port, "the webhook sink", "--sink-port")
    except PortBusyError as exc:
        raise _UsageError(str(exc)) from exc
    async with run_webhook_sink(port, secret=secret) as sink:
        yield sink


def _webhook_summary(webhook: ReceivedWebhook) -> dict[str, Any]:
    return {
        "path": webhook.path,
        "type": webhook.event_type,
        "webhook_id": webhook.headers.get("webhook-id"),
        "verified": webhook.verified,
        "payload": webhook.payload,
    }


def _render_record(console: Console, record: Any, *, has_key: bool) -> None:
    if record is None:
        why = "no record of the call yet" if has_key else "no API key to read the call record"
        console.print(f"[dim]{why}[/dim]")
        return
    console.print(
        f"call record: status [bold]{record.get('status')}[/bold], "
        f"outcome {record.get('outcome') or '—'}"
    )
    progress = record.get("progress") or {}
    analysis = record.get("analysis") or {}
    goals: list[dict[str, Any]] = progress.get("goals") or analysis.get("goals") or []
    if not goals:
        return
    table = Table(title="Goal progress")
    table.add_column("goal")
    table.add_column("done")
    table.add_column("missing", overflow="fold")
    for goal in goals:
        done = goal.get("complete", goal.get("success", False))
        table.add_row(
            str(goal.get("name")),
            "[green]yes[/green]" if done else "[yellow]no[/yellow]",
            ", ".join(goal.get("missing_fields") or []),
        )
    console.print(table)
    captured = progress.get("captured") or record.get("extracted_data") or {}
    if captured:
        console.print("captured: " + ", ".join(f"{k}={v!r}" for k, v in captured.items()))


def _render_webhooks(console: Console, webhooks: list[dict[str, Any]]) -> None:
    if not webhooks:
        console.print("[dim]no webhooks arrived at the sink[/dim]")
        return
    table = Table(title="Webhooks received")
    table.add_column("path")
    table.add_column("event")
    table.add_column("id")
    table.add_column("signature")
    for webhook in webhooks:
        verified = webhook["verified"]
        mark = {True: "[green]valid[/green]", False: "[red]INVALID[/red]", None: "unchecked"}
        table.add_row(
            webhook["path"], str(webhook["type"]), str(webhook["webhook_id"]), mark[verified]
        )
    console.print(table)
