"""The embedded development stack: everything `callwright dev` runs, as child processes.

Temporal (with its UI and the platform's search attributes), PostgreSQL with pgvector unless
DATABASE_URL is set, Redis unless REDIS_URL is set, then migrations, then the API, a worker and
the realtime media server. What is running is written to `<data_dir>/stack.json` so other
commands (`callwright apikey`, `call`) find it; the file goes when the stack stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from sqlalchemy import delete

from core.auth import authenticate, create_api_key
from core.db import migrate
from core.db.models import ApiKey
from core.db.session import make_async_engine, make_sessionmaker
from core.search_attributes import CALL_SEARCH_ATTRIBUTES
from core.settings import Settings
from workers.services import (
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedService,
    EmbeddedTemporal,
    ServiceError,
    ServiceStartError,
    check_port_free,
    parent_death_hook,
)

logger = logging.getLogger(__name__)

STACK_FILE = "stack.json"
DEV_KEY_FILE = "dev-api-key"
DEV_KEY_NAME = "development"
API_START_TIMEOUT_S = 60.0
# The realtime server loads and warms its speech models before it listens: seconds on a laptop,
# longer on a busy two-core machine, never minutes.
REALTIME_START_TIMEOUT_S = 180.0
CHILD_STOP_TIMEOUT_S = 25.0  # the worker's graceful shutdown is 20 s


@dataclass(frozen=True)
class StackPorts:
    """The loopback ports the stack listens on."""

    api: int = 8000
    temporal: int = 7233
    temporal_ui: int = 8233
    postgres: int = 55432
    redis: int = 56379
    realtime: int = 8765


@dataclass(frozen=True)
class StackInfo:
    """Where a running stack's parts are; what `stack.json` holds."""

    api_url: str
    realtime_url: str
    database_url: str
    redis_url: str
    temporal_address: str
    temporal_ui_url: str | None
    pid: int


def read_stack_info(data_dir: Path) -> StackInfo | None:
    """The running stack described in `data_dir`, if its supervisor is still alive."""
    path = data_dir / STACK_FILE
    try:
        info = StackInfo(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by someone else
    return info


def settings_for_stack(settings: Settings, data_dir: Path) -> Settings:
    """`settings`, with the running stack's addresses filled in where the environment is silent."""
    info = read_stack_info(data_dir)
    if info is None:
        return settings
    fields_set = settings.model_fields_set
    updates: dict[str, object] = {}
    if "database_url" not in fields_set:
        updates["database_url"] = info.database_url
    if "redis_url" not in fields_set:
        updates["redis_url"] = info.redis_url
    if "temporal_address" not in fields_set:
        updates["temporal_address"] = info.temporal_address
    return settings.model_copy(update=updates)


class DevStack:
    """Starts and stops the embedded stack under one data folder.

    `child_env` is laid over the environment the API, worker and realtime children get, after
    the stack's own defaults: the demo uses it to pin the brain and the loopback URLs.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        data_dir: Path,
        ports: StackPorts,
        headless: bool = False,
        child_env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.data_dir = data_dir.resolve()
        self.ports = ports
        self.headless = headless
        self.child_env = dict(child_env or {})
        self.services: list[EmbeddedService] = []
        self.api_process: subprocess.Popen[bytes] | None = None
        self.worker_process: subprocess.Popen[bytes] | None = None
        self.realtime_process: subprocess.Popen[bytes] | None = None
        self.info: StackInfo | None = None
        self.log_dir = self.data_dir / "logs"
        self.dev_key: str | None = None

    def check_ports(self) -> None:
        """Fail early, and clearly, when a port the stack needs is taken."""
        check_port_free("127.0.0.1", self.ports.api, "the API", "--api-port")
        check_port_free("127.0.0.1", self.ports.temporal, "Temporal", "--temporal-port")
        check_port_free(
            "127.0.0.1", self.ports.realtime, "the realtime media server", "--realtime-port"
        )
        if not self.headless:
            check_port_free(
                "127.0.0.1", self.ports.temporal_ui, "the Temporal UI", "--temporal-ui-port"
            )
        if not self.settings.database_url:
            check_port_free("127.0.0.1", self.ports.postgres, "PostgreSQL", "--postgres-port")
        if not self.settings.redis_url:
            check_port_free("127.0.0.1", self.ports.redis, "Redis", "--redis-port")

    def start(self) -> StackInfo:
        """Start every part, migrate, serve the API and the media server; on any failure stop
        what started."""
        existing = read_stack_info(self.data_dir)
        if existing is not None:
            raise ServiceError(
                f"a stack is already running from {self.data_dir} (pid {existing.pid}, "
                f"API {existing.api_url}); stop it or use another --data-dir"
            )
        self.check_ports()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackInfo:
        temporal = EmbeddedTemporal(
            self.data_dir / "temporal",
            self.ports.temporal,
            self.ports.temporal_ui,
            headless=self.headless,
            search_attributes=CALL_SEARCH_ATTRIBUTES,
            namespace=self.settings.temporal_namespace,
            log_dir=self.log_dir,
        )
        self._start_service(temporal)
        database_url = self.settings.database_url
        if not database_url:
            postgres = EmbeddedPostgres(
                self.data_dir / "postgres", self.ports.postgres, log_dir=self.log_dir
            )
            self._start_service(postgres)
            database_url = postgres.database_url
        redis_url = self.settings.redis_url
        if not redis_url:
            redis = EmbeddedRedis(self.data_dir / "redis", self.ports.redis, log_dir=self.log_dir)
            self._start_service(redis)
            redis_url = redis.url

        started = time.perf_counter()
        migrate.upgrade(database_url)
        logger.info("migrations applied in %.1f s", time.perf_counter() - started)

        api_url = f"http://127.0.0.1:{self.ports.api}"
        realtime_url = f"http://127.0.0.1:{self.ports.realtime}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "TEMPORAL_ADDRESS": temporal.address,
            "TEMPORAL_NAMESPACE": self.settings.temporal_namespace,
            "CALLWRIGHT_DATA_DIR": str(self.data_dir),
        }
        env.setdefault("PUBLIC_BASE_URL", api_url)
        # The TwiML the API answers points Twilio's media stream here (a user's tunnel wins).
        env.setdefault("REALTIME_PUBLIC_URL", realtime_url)
        if temporal.ui_url:
            env.setdefault("TEMPORAL_UI_URL", temporal.ui_url)
        env.update(self.child_env)
        # Started first: its models load while the API and the worker come up.
        self.realtime_process = self._spawn(
            "realtime",
            ["realtime", "--host", "127.0.0.1", "--port", str(self.ports.realtime)],
            env,
        )
        self.api_process = self._spawn(
            "api", ["api", "--host", "127.0.0.1", "--port", str(self.ports.api)], env
        )
        self._wait_for_health("api", "the API", f"{api_url}/healthz", API_START_TIMEOUT_S)
        self.worker_process = self._spawn("worker", ["worker"], env)
        self.dev_key = ensure_dev_key(database_url, self.data_dir / DEV_KEY_FILE)
        self._wait_for_health(
            "realtime", "the realtime server", f"{realtime_url}/health", REALTIME_START_TIMEOUT_S
        )
        self.info = StackInfo(
            api_url=api_url,
            realtime_url=realtime_url,
            database_url=database_url,
            redis_url=redis_url,
            temporal_address=temporal.address,
            temporal_ui_url=temporal.ui_url,
            pid=os.getpid(),
        )
        (self.data_dir / STACK_FILE).write_text(json.dumps(asdict(self.info), indent=2))
        return self.info

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        return spawn_cli(args, env, self.log_dir / f"{name}.log")

    def _start_service(self, service: EmbeddedService) -> None:
        started = time.perf_counter()
        self.services.append(service)
        service.start()
        logger.info("%s ready in %.1f s", service.name, time.perf_counter() - started)

    def _wait_for_health(self, child: str, name: str, url: str, timeout_s: float) -> None:
        process = dict(self._children())[child]
        assert process is not None
        wait_for_health(process, name, url, timeout_s, self.log_dir / f"{child}.log")

    def failed_child(self) -> str | None:
        """The name of a child that has exited on its own, if any."""
        for name, process in self._children():
            if process is not None and process.poll() is not None:
                return name
        for service in self.services:
            if not service.is_running:
                return service.name
        return None

    def _children(self) -> list[tuple[str, subprocess.Popen[bytes] | None]]:
        """The `callwright` children by log name, the ones to stop first first."""
        return [
            ("worker", self.worker_process),
            ("api", self.api_process),
            ("realtime", self.realtime_process),
        ]

    def stop(self) -> None:
        """Stop the worker, the API and the realtime server, then every server, newest first;
        safe to call more than once."""
        children = [process for _, process in self._children()]
        # All at once: the worker's drain and the realtime server's goodbyes overlap.
        for process in children:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in children:
            if process is None:
                continue
            try:
                process.wait(CHILD_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception:  # stopping the rest matters more than one failure
                logger.exception("stopping %s failed", service.name)
        self.services.clear()
        stack_file = self.data_dir / STACK_FILE
        if self.info is not None and stack_file.exists():
            stack_file.unlink()
        self.info = None


def ensure_dev_key(database_url: str, key_file: Path) -> str:
    """The development API key kept in `key_file`, made anew when it no longer works."""
    kept = key_file.read_text().strip() if key_file.exists() else None
    key = asyncio.run(_check_or_replace_dev_key(database_url, kept))
    if key != kept:
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
    return key


async def _check_or_replace_dev_key(database_url: str, kept: str | None) -> str:
    engine = make_async_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            if kept is not None and await authenticate(session, kept) is not None:
                return kept
            await session.execute(delete(ApiKey).where(ApiKey.name == DEV_KEY_NAME))
            await session.commit()
            key = await create_api_key(session, name=DEV_KEY_NAME)
    finally:
        await engine.dispose()
    return key


def log_tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log file ("" if it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def spawn_cli(
    args: list[str], env: Mapping[str, str], log_path: Path, *, session: bool = True
) -> subprocess.Popen[bytes]:
    """Run `callwright <args>` as a child, its output appended to `log_path`. The child dies
    with its parent (SIGTERM) even if the parent is killed without stopping it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "workers.cli", *args],
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=session,  # Ctrl-C reaches us; we stop the children in order
            # …and if we die without stopping it (SIGKILL, OOM), Linux stops it for us.
            preexec_fn=parent_death_hook(signal.SIGTERM),
        )


def wait_for_health(
    process: subprocess.Popen[bytes], name: str, url: str, timeout_s: float, log_path: Path
) -> None:
    """Wait until `process` (called `name` in messages) answers 200 at `url`; one that exits or
    stays unhealthy is an error carrying the tail of its log."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceStartError(
                f"{name} exited with code {process.returncode}", log_path, log_tail(log_path)
            )
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise ServiceStartError(
        f"{name} was not healthy within {timeout_s:.0f} s: {last}",
        log_path,
        log_tail(log_path),
    )
