"""The embedded development stack: everything `callwright dev` runs, as child processes.

Temporal (with its UI and the platform's search attributes), PostgreSQL with pgvector unless
DATABASE_URL is set, Redis unless REDIS_URL is set, then migrations, then the API. What is
running is written to `<data_dir>/stack.json` so other commands (`callwright apikey`, later
`call`) find it; the file goes when the stack stops.
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
CHILD_STOP_TIMEOUT_S = 25.0  # the worker's graceful shutdown is 20 s


@dataclass(frozen=True)
class StackPorts:
    """The loopback ports the stack listens on."""

    api: int = 8000
    temporal: int = 7233
    temporal_ui: int = 8233
    postgres: int = 55432
    redis: int = 56379


@dataclass(frozen=True)
class StackInfo:
    """Where a running stack's parts are; what `stack.json` holds."""

    api_url: str
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
    """Starts and stops the embedded stack under one data folder."""

    def __init__(
        self, settings: Settings, *, data_dir: Path, ports: StackPorts, headless: bool = False
    ) -> None:
        self.settings = settings
        self.data_dir = data_dir.resolve()
        self.ports = ports
        self.headless = headless
        self.services: list[EmbeddedService] = []
        self.api_process: subprocess.Popen[bytes] | None = None
        self.worker_process: subprocess.Popen[bytes] | None = None
        self.info: StackInfo | None = None
        self.log_dir = self.data_dir / "logs"
        self.dev_key: str | None = None

    def check_ports(self) -> None:
        """Fail early, and clearly, when a port the stack needs is taken."""
        check_port_free("127.0.0.1", self.ports.api, "the API", "--api-port")
        check_port_free("127.0.0.1", self.ports.temporal, "Temporal", "--temporal-port")
        if not self.headless:
            check_port_free(
                "127.0.0.1", self.ports.temporal_ui, "the Temporal UI", "--temporal-ui-port"
            )
        if not self.settings.database_url:
            check_port_free("127.0.0.1", self.ports.postgres, "PostgreSQL", "--postgres-port")
        if not self.settings.redis_url:
            check_port_free("127.0.0.1", self.ports.redis, "Redis", "--redis-port")

    def start(self) -> StackInfo:
        """Start every part, migrate, serve the API; on any failure stop what started."""
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
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "TEMPORAL_ADDRESS": temporal.address,
            "TEMPORAL_NAMESPACE": self.settings.temporal_namespace,
            "CALLWRIGHT_DATA_DIR": str(self.data_dir),
        }
        env.setdefault("PUBLIC_BASE_URL", api_url)
        if temporal.ui_url:
            env.setdefault("TEMPORAL_UI_URL", temporal.ui_url)
        self.api_process = self._spawn(
            "api", ["api", "--host", "127.0.0.1", "--port", str(self.ports.api)], env
        )
        self._wait_for_api(api_url, self.log_dir / "api.log")
        self.worker_process = self._spawn("worker", ["worker"], env)
        self.dev_key = ensure_dev_key(database_url, self.data_dir / DEV_KEY_FILE)
        self.info = StackInfo(
            api_url=api_url,
            database_url=database_url,
            redis_url=redis_url,
            temporal_address=temporal.address,
            temporal_ui_url=temporal.ui_url,
            pid=os.getpid(),
        )
        (self.data_dir / STACK_FILE).write_text(json.dumps(asdict(self.info), indent=2))
        return self.info

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Run `callwright <args>` as a child, its output in `logs/<name>.log`."""
        log_path = self.log_dir / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "workers.cli", *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us; we stop the children in order
                # …and if we die without stopping it (SIGKILL, OOM), Linux stops it for us.
                preexec_fn=parent_death_hook(signal.SIGTERM),
            )

    def _start_service(self, service: EmbeddedService) -> None:
        started = time.perf_counter()
        self.services.append(service)
        service.start()
        logger.info("%s ready in %.1f s", service.name, time.perf_counter() - started)

    def _wait_for_api(self, api_url: str, log_path: Path) -> None:
        deadline = time.monotonic() + API_START_TIMEOUT_S
        assert self.api_process is not None
        while time.monotonic() < deadline:
            if self.api_process.poll() is not None:
                raise ServiceStartError(
                    f"the API exited with code {self.api_process.returncode}",
                    log_path,
                    _tail(log_path),
                )
            try:
                response = httpx.get(f"{api_url}/healthz", timeout=5)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise ServiceStartError(
            f"the API was not healthy within {API_START_TIMEOUT_S:.0f} s: {last}",
            log_path,
            _tail(log_path),
        )

    def failed_child(self) -> str | None:
        """The name of a child that has exited on its own, if any."""
        for name, process in (("api", self.api_process), ("worker", self.worker_process)):
            if process is not None and process.poll() is not None:
                return name
        for service in self.services:
            if not service.is_running:
                return service.name
        return None

    def stop(self) -> None:
        """Stop the worker and the API, then every server, newest first; safe to call more
        than once."""
        for process in (self.worker_process, self.api_process):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (self.worker_process, self.api_process):
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


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
