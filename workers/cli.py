"""The `callwright` command: run the platform's processes and administer it.

callwright dev              the whole stack on this machine (Ctrl-C stops it)
callwright demo             start, build the example agents, print their prompts, place a
                            simulated booking call, show its transcript and webhooks, stop
callwright api              the API server alone (production)
callwright worker           a Temporal worker for calls and webhooks (production)
callwright realtime         the media server for Twilio streams (production)
callwright eval             simulated callers against an agent: goal completion, accuracy
callwright knowledge import  files of a business's knowledge into a domain, indexed
callwright migrate          bring the database schema up to date
callwright apikey create    a new API key (admin unless --scope), printed alone on stdout
callwright org create       a new organization (a business using this platform)
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, NoReturn

import httpx
import typer
from rich.console import Console

from core.settings import Environment, Settings, get_settings
from workers.caller.command import call
from workers.demo import DEMO_AGENT_FILE, DemoError, demo_child_env, print_failure, run_demo
from workers.eval.command import eval_command
from workers.knowledge import knowledge_app
from workers.services import PortBusyError, ServiceError, find_free_port
from workers.stack import (
    DevStack,
    StackPorts,
    local_settings,
    non_loopback_host,
    settings_for_stack,
)

app = typer.Typer(
    name="callwright",
    help="Callwright: an open platform for phone voice agents.",
    no_args_is_help=True,
    add_completion=False,
)
apikey_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
org_app = typer.Typer(
    help="Create and list organizations (the businesses sharing this platform).",
    no_args_is_help=True,
)
app.add_typer(apikey_app, name="apikey")
app.add_typer(org_app, name="org")
app.add_typer(knowledge_app, name="knowledge")

console = Console(stderr=True)  # humans read stderr; stdout stays for what scripts capture
logger = logging.getLogger("callwright")

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where the stack keeps its state [default: CALLWRIGHT_DATA_DIR or .callwright]",
    ),
]


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # One line per HTTP request the CLI makes is noise on a terminal.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _settings() -> Settings:
    try:
        settings = get_settings()
    except ValueError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    _configure_logging(settings)
    return settings


def _development_settings(command: str) -> Settings:
    """`callwright dev` and `demo` run development, chosen here explicitly (every other process
    defaults to production); a CALLWRIGHT_ENV that says otherwise is a mistake, not a wish."""
    try:
        settings = local_settings()
    except ValueError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if settings.environment is not Environment.DEVELOPMENT:
        console.print(
            f"[red]configuration error:[/red] `callwright {command}` runs a development stack "
            f"with example secrets, but CALLWRIGHT_ENV={settings.environment.value}; unset it "
            "(or set it to development)"
        )
        raise typer.Exit(2)
    _configure_logging(settings)
    return settings


# Why a production API or worker needs a Twilio account (TWILIO_AUTH_TOKEN, which also checks
# Twilio's signatures, every process outside development needs already).
TWILIO_NEEDS = {
    "api": "the API places outbound calls through Twilio's REST API",
    "worker": "the worker hangs up calls through Twilio's REST API",
}


def _require(settings: Settings, process: str) -> None:
    """Refuse to start without the secrets `process` uses (outside development), and in
    production without a Twilio account where it needs one, rather than fail each call."""
    try:
        settings.require_secrets(process)
    except ValueError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if (
        process not in TWILIO_NEEDS
        or settings.environment is not Environment.PRODUCTION
        or settings.twilio_account_sid
    ):
        return
    console.print(
        f"[red]configuration error:[/red] TWILIO_ACCOUNT_SID is not set: {TWILIO_NEEDS[process]} "
        "(with TWILIO_AUTH_TOKEN); required when CALLWRIGHT_ENV=production"
    )
    raise typer.Exit(2)


def _exit(code: int) -> NoReturn:
    # temporalio's native runtime can crash while the interpreter tears down after all work is
    # done (sdk-python#300); flush and leave without that teardown so the exit code is ours.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _start_stack(stack: DevStack) -> str:
    """Start `stack` and return its development key; exit 2 with a clear message on failure."""
    try:
        stack.start()
        assert stack.dev_key is not None
        return stack.dev_key
    except PortBusyError as exc:
        console.print(f"[red]error:[/red] {exc}")
        _exit(2)
    except ServiceError as exc:
        stack.stop()
        console.print(f"[red]the stack did not start:[/red] {exc}")
        _exit(1)


class _Stop(Exception):
    """Raised by the SIGTERM handler to unwind into the clean shutdown path."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP (a closed terminal) stop the stack the way Ctrl-C does."""
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGHUP, _raise_stop)


def _stop_stack(stack: DevStack) -> None:
    """Stop every child; a second Ctrl-C must not cut the shutdown short and orphan them."""
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    stack.stop()


@app.command()
def dev(
    data_dir: DataDirOption = None,
    api_port: Annotated[int, typer.Option(help="API port")] = 8000,
    temporal_port: Annotated[int, typer.Option(help="Temporal frontend port")] = 7233,
    temporal_ui_port: Annotated[int, typer.Option(help="Temporal Web UI port")] = 8233,
    postgres_port: Annotated[int, typer.Option(help="Embedded PostgreSQL port")] = 55432,
    redis_port: Annotated[int, typer.Option(help="Embedded Redis port")] = 56379,
    realtime_port: Annotated[int, typer.Option(help="Realtime media server port")] = 8765,
    headless: Annotated[bool, typer.Option(help="Run Temporal without its Web UI")] = False,
) -> None:
    """Run the whole platform on this machine, on loopback, until Ctrl-C or SIGTERM."""
    settings = _development_settings("dev")
    # A development stack (example secrets, a printed admin key) must not reach a real database.
    remote = non_loopback_host(settings.database_url) if settings.database_url else None
    if remote is not None:
        console.print(
            f"[red]configuration error:[/red] DATABASE_URL points at {remote}, not this machine; "
            "`callwright dev` uses a loopback database only (unset DATABASE_URL for the "
            "embedded one)"
        )
        raise typer.Exit(2)
    ports = StackPorts(
        api=api_port,
        temporal=temporal_port,
        temporal_ui=temporal_ui_port,
        postgres=postgres_port,
        redis=redis_port,
        realtime=realtime_port,
    )
    stack = DevStack(
        settings, data_dir=data_dir or settings.data_dir, ports=ports, headless=headless
    )
    _stop_on_signals()
    code = 0
    try:
        key = _start_stack(stack)
        assert stack.info is not None
        console.print(
            "[bold green]Callwright is running[/bold green]\n"
            f"  Console      {stack.info.api_url}/console/  (sign in with the API key below)\n"
            f"  API          {stack.info.api_url}  (docs at {stack.info.api_url}/docs)\n"
            f"  Realtime     {stack.info.realtime_url}  (Twilio media at /twilio/media)\n"
            f"  Temporal     {stack.info.temporal_address}"
            + (f"  (UI at {stack.info.temporal_ui_url})" if stack.info.temporal_ui_url else "")
            + f"\n  Database     {stack.info.database_url}\n"
            f"  Redis        {stack.info.redis_url}\n"
            f"  Data         {stack.data_dir}\n"
            f"  API key      {key}\n"
            "Press Ctrl-C to stop."
        )
        while True:
            failed = stack.failed_child()
            if failed:
                console.print(
                    f"[red]{failed} exited unexpectedly; stopping (see {stack.log_dir})[/red]"
                )
                code = 1
                break
            time.sleep(0.5)
    except (KeyboardInterrupt, _Stop):
        console.print("stopping…")
    finally:
        _stop_stack(stack)
    _exit(code)


@app.command()
def demo(
    examples_dir: Annotated[
        Path, typer.Option(help="Folder of agent documents to create")
    ] = EXAMPLES_DIR,
) -> None:
    """Start a throw-away stack, create the example agents through the API and print their
    compiled prompts, place a simulated booking call to the Appointment Scheduler, show its
    transcript, latencies and webhooks, stop everything."""
    settings = _development_settings("demo")
    documents = sorted(examples_dir.glob("*.json"))
    if not any(path.name == DEMO_AGENT_FILE for path in documents):
        console.print(f"[red]the demo calls the agent in {DEMO_AGENT_FILE}; none in {examples_dir}")
        _exit(2)
    with tempfile.TemporaryDirectory(prefix="callwright-demo-") as tmp:
        code = _run_demo(settings, Path(tmp), documents)
    # Only now, with the temporary folder (a whole database cluster) removed.
    _exit(code)


def _run_demo(settings: Settings, data_dir: Path, documents: list[Path]) -> int:
    ports = StackPorts(*(find_free_port() for _ in range(6)))
    demo_settings = settings.model_copy(update={"database_url": None, "redis_url": None})
    stack = DevStack(demo_settings, data_dir=data_dir, ports=ports, child_env=demo_child_env(ports))
    _stop_on_signals()
    try:
        started = time.perf_counter()
        stack.start()
        assert stack.info is not None and stack.dev_key is not None
        console.print(f"stack up in {time.perf_counter() - started:.1f} s at {stack.info.api_url}")
        asyncio.run(run_demo(demo_settings, stack.info, stack.dev_key, documents))
        return 0
    except (KeyboardInterrupt, _Stop):
        return 130
    except DemoError as exc:
        print_failure(exc, stack.log_dir, console)
        return 1
    except (ServiceError, PortBusyError, RuntimeError, httpx.HTTPError) as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        return 1
    finally:
        _stop_stack(stack)


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address [default: API_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: API_PORT]")] = None,
) -> None:
    """Serve the API (uvicorn). Needs DATABASE_URL; run `callwright migrate` first."""
    import uvicorn

    from api.app import create_app

    settings = _settings()
    _require(settings, "api")
    settings = settings_for_stack(settings, settings.data_dir)
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


@app.command()
def worker() -> None:
    """Run a Temporal worker for calls and webhooks (stops gracefully on SIGTERM)."""
    from workers.worker import run_worker

    settings = _settings()
    _require(settings, "worker")
    settings = settings_for_stack(settings, settings.data_dir)
    try:
        asyncio.run(run_worker(settings))
    except RuntimeError as exc:
        console.print(f"[red]error:[/red] {exc}")
        _exit(2)
    _exit(0)


@app.command()
def realtime(
    host: Annotated[str | None, typer.Option(help="Bind address [default: REALTIME_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: REALTIME_PORT]")] = None,
) -> None:
    """Serve Twilio media streams: VAD, STT, brain, TTS per call (loads the models once)."""
    from workers.realtime import run_realtime

    settings = _settings()
    _require(settings, "realtime")
    settings = settings_for_stack(settings, settings.data_dir)
    asyncio.run(
        run_realtime(
            settings, host=host or settings.realtime_host, port=port or settings.realtime_port
        )
    )
    _exit(0)


app.command("call")(call)
app.command("eval")(eval_command)


def _database_url(settings: Settings, data_dir: Path | None) -> str:
    resolved = settings_for_stack(settings, data_dir or settings.data_dir)
    if not resolved.database_url:
        console.print(
            "[red]no database:[/red] start `callwright dev` (in this folder or with --data-dir) "
            "or set DATABASE_URL"
        )
        raise typer.Exit(2)
    return resolved.database_url


@app.command()
def migrate(
    data_dir: DataDirOption = None,
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
) -> None:
    """Bring the database schema up to `revision` (Alembic)."""
    from core.db import migrate as migrations

    settings = _settings()
    migrations.upgrade(_database_url(settings, data_dir), revision)
    console.print(f"database at revision {revision}")


@apikey_app.command("create")
def apikey_create(
    name: Annotated[
        str, typer.Argument(help="A unique name for the key, e.g. the system using it")
    ],
    org: Annotated[
        str, typer.Option(help="The organization the key belongs to (`callwright org create`)")
    ] = "default",
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="What the key may do: read, agents:write, calls:write, webhooks:write, admin "
            "(repeat for several; default admin)"
        ),
    ] = None,
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, help="Days until the key stops working")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an API key and print only the key on stdout (capture it: it is not shown again)."""
    from datetime import UTC, datetime, timedelta

    from core.auth import Scope, create_api_key
    from core.errors import ConflictError

    try:
        scopes = [Scope(s) for s in scope or [Scope.ADMIN]]
    except ValueError as exc:
        console.print(f"[red]error:[/red] --scope: {exc}; one of {', '.join(Scope)}")
        raise typer.Exit(2) from exc
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    settings = _settings()
    url = _database_url(settings, data_dir)

    async def create() -> str:
        from sqlalchemy import select

        from core.db.models import Organization
        from core.db.session import make_async_engine, make_sessionmaker
        from core.organizations import DEFAULT_ORGANIZATION, default_organization

        engine = make_async_engine(url, pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session:
                if org == DEFAULT_ORGANIZATION:
                    organization = await default_organization(session)
                else:
                    found = await session.scalar(
                        select(Organization).where(Organization.name == org)
                    )
                    if found is None:
                        raise ConflictError(
                            f"no organization named {org!r} (callwright org create {org})"
                        )
                    organization = found
                return await create_api_key(
                    session,
                    name=name,
                    organization_id=organization.id,
                    scopes=scopes,
                    expires_at=expires_at,
                )
        finally:
            await engine.dispose()

    try:
        key = asyncio.run(create())
    except ConflictError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    print(key)


@apikey_app.command("list")
def apikey_list(data_dir: DataDirOption = None) -> None:
    """List keys: organization, name, prefix, scopes, state (keys themselves are never stored)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from core.db.models import ApiKey, Organization
    from core.db.session import make_sync_engine

    settings = _settings()
    engine = make_sync_engine(_database_url(settings, data_dir))
    now = datetime.now(UTC)
    with engine.connect() as conn:
        rows = conn.execute(
            select(ApiKey, Organization.name.label("organization"))
            .join(Organization, Organization.id == ApiKey.organization_id)
            .order_by(ApiKey.id)
        )
        for row in rows:
            state = (
                "revoked"
                if row.revoked_at
                else "expired"
                if row.expires_at and row.expires_at <= now
                else "active"
            )
            print(
                f"{row.organization}\t{row.name}\t{row.prefix}…\t{','.join(row.scopes)}\t"
                f"{state}\tcreated {row.created_at:%Y-%m-%d %H:%M}"
            )
    engine.dispose()


@apikey_app.command("revoke")
def apikey_revoke(
    name: Annotated[str, typer.Argument(help="The key's name")],
    org: Annotated[str, typer.Option(help="The organization the key belongs to")] = "default",
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a key by name; requests with it get 401 from then on."""
    from sqlalchemy import func, select, update

    from core.db.models import ApiKey, Organization
    from core.db.session import make_sync_engine

    settings = _settings()
    engine = make_sync_engine(_database_url(settings, data_dir))
    with engine.begin() as conn:
        result = conn.execute(
            update(ApiKey)
            .where(
                ApiKey.name == name,
                ApiKey.revoked_at.is_(None),
                ApiKey.organization_id.in_(select(Organization.id).where(Organization.name == org)),
            )
            .values(revoked_at=func.now())
        )
    engine.dispose()
    if result.rowcount == 0:
        console.print(f"[red]no active key named {name!r}[/red]")
        raise typer.Exit(1)
    console.print(f"revoked {name}")


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Argument(help="A unique name, e.g. the business's")],
    allow_prefix: Annotated[
        list[str] | None,
        typer.Option(help="An E.164 prefix outbound calls may dial, e.g. +1 (repeat for more)"),
    ] = None,
    calls_per_hour: Annotated[int, typer.Option(min=0, help="Outbound calls per hour")] = 20,
    retention_days: Annotated[
        int | None, typer.Option(min=1, help="Days call history is kept (default: forever)")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an organization; then `callwright apikey create NAME --org ORG` gives it a key."""
    import re

    from sqlalchemy import insert, select

    from core.db.models import Organization
    from core.db.session import make_sync_engine

    prefixes = list(allow_prefix or [])
    bad = [p for p in prefixes if not re.fullmatch(r"\+[0-9]{0,14}", p)]
    if bad:
        console.print(f"[red]error:[/red] --allow-prefix {bad[0]!r}: give `+` and digits")
        raise typer.Exit(2)
    settings = _settings()
    engine = make_sync_engine(_database_url(settings, data_dir))
    try:
        with engine.begin() as conn:
            if conn.execute(select(Organization.id).where(Organization.name == name)).first():
                console.print(f"[red]error:[/red] an organization named {name!r} already exists")
                raise typer.Exit(1)
            conn.execute(
                insert(Organization).values(
                    name=name,
                    allowed_call_prefixes=prefixes,
                    calls_per_hour=calls_per_hour,
                    retention_days=retention_days,
                )
            )
    finally:
        engine.dispose()
    console.print(f"organization {name!r} created")


@org_app.command("list")
def org_list(data_dir: DataDirOption = None) -> None:
    """List organizations with their limits."""
    from sqlalchemy import select

    from core.db.models import Organization
    from core.db.session import make_sync_engine

    settings = _settings()
    engine = make_sync_engine(_database_url(settings, data_dir))
    with engine.connect() as conn:
        for row in conn.execute(select(Organization).order_by(Organization.id)):
            kept = f"{row.retention_days} days" if row.retention_days else "forever"
            prefixes = ",".join(row.allowed_call_prefixes) or "no outbound calls"
            print(f"{row.name}\t{prefixes}\t{row.calls_per_hour}/hour\tkept {kept}")
    engine.dispose()


if __name__ == "__main__":
    app()
