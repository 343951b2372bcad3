"""The embedded development stack: everything `callwright dev` runs, as child processes.

Temporal (with its UI and the platform's search attributes), PostgreSQL with pgvector unless
DATABASE_URL is set, Redis unless REDIS_URL is set, then migrations, then the API, a worker and
the realtime media server. What is running is written to `<data_dir>/stack.json` so other
commands (`callwright apikey`, `call`) find it; the file goes when the stack stops.

A stack may run several realtime nodes (`StackPorts.more_realtime`), each on its own port and
public URL, all in the node registry of the stack's Redis. Every part can be crashed and brought
back by name (`kill`, `restart`, `kill_service`, `restart_service`): what `make chaos` does to
calls in flight (workers/chaos).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from core.auth import authenticate, create_api_key
from core.db import migrate
from core.db.models import ApiKey
from core.db.session import make_async_engine, make_sessionmaker
from core.search_attributes import CALL_SEARCH_ATTRIBUTES
from core.settings import Environment, Settings
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
LEFTOVER_GRACE_S = 2.0


@dataclass(frozen=True)
class StackPorts:
    """The loopback ports the stack listens on."""

    api: int = 8000
    temporal: int = 7233
    temporal_ui: int = 8233
    postgres: int = 55432
    redis: int = 56379
    realtime: int = 8765
    more_realtime: tuple[int, ...] = field(default=(), kw_only=True)
    """Ports of further realtime nodes; a fleet of one unless given."""


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


def stack_api_url(settings: Settings, data_dir: Path) -> str:
    """The running dev stack's API address, else the configured API host and port."""
    info = read_stack_info(data_dir)
    return info.api_url if info is not None else f"http://{settings.api_host}:{settings.api_port}"


def dev_key(data_dir: Path) -> str | None:
    """The development API key `callwright dev` wrote, if there is one."""
    try:
        return (data_dir / DEV_KEY_FILE).read_text().strip() or None
    except OSError:
        return None


def local_settings() -> Settings:
    """Settings for the tools that run or talk to a local stack (`callwright dev`, `demo`,
    `call`, `eval`, `make bench`, `make chaos`): CALLWRIGHT_ENV left unset means `development`
    for them, and for them alone; a value that is set is honoured. Every other process defaults
    to production."""
    if os.environ.get("CALLWRIGHT_ENV"):
        return Settings()
    return Settings(CALLWRIGHT_ENV=Environment.DEVELOPMENT)


def non_loopback_host(url: str) -> str | None:
    """The host `url` reaches when it is not this machine (a Unix socket counts as this
    machine), else None. Names are not resolved: only `localhost` and loopback addresses pass."""
    parsed = make_url(url)
    hosts = [parsed.host] if parsed.host else []
    query_host = parsed.query.get("host")
    hosts += [query_host] if isinstance(query_host, str) else list(query_host or ())
    for host in hosts:
        if not (host.startswith("/") or host.lower() == "localhost" or _is_loopback_ip(host)):
            return host
    return None


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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


@dataclass
class Child:
    """One `callwright` child of the stack: how to start it (again), and its process."""

    name: str
    """Its log name: `api`, `worker`, `realtime`, `realtime-2`…"""
    what: str
    """What messages call it ("the API")."""
    args: list[str]
    env: dict[str, str]
    log_path: Path
    health_url: str | None = None
    """Answers 200 once it serves; None for a child with nothing to ask (the worker)."""
    start_timeout_s: float = API_START_TIMEOUT_S
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    descendants: list[ProcessId] = field(default_factory=list, repr=False)
    """Its own children when it was asked to stop: stopped with it if they outlive it."""

    def kill_leftovers(self) -> None:
        """SIGKILL what the exited child left running, once its own processes have had
        `LEFTOVER_GRACE_S` to follow it out (a `spawn` helper ends when its parent does, a
        moment later). A supervisor must not leak them: before core/processes.py, every
        realtime process left its Duckling worker behind, 160 MB each time."""
        deadline = time.monotonic() + LEFTOVER_GRACE_S
        leftovers = [p for p in self.descendants if p.is_alive()]
        while leftovers and time.monotonic() < deadline:
            time.sleep(0.05)
            leftovers = [p for p in leftovers if p.is_alive()]
        if leftovers:
            logger.warning(
                "%s left %d process(es) running after it exited; killing them: %s",
                self.name,
                len(leftovers),
                ", ".join(str(p.pid) for p in leftovers),
            )
        for process in leftovers:
            process.kill()
        self.descendants = []

    @property
    def is_running(self) -> bool:
        """Whether its process is alive."""
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start it; the thread that calls this must outlive it (see `parent_death_hook`)."""
        if self.is_running:
            raise ServiceError(f"{self.what} is already running (pid {self.pid})")
        self.process = spawn_cli(self.args, self.env, self.log_path)
        return self.process

    def wait_healthy(self) -> None:
        """Return once it answers its health URL (at once for a child without one)."""
        if self.health_url is not None:
            assert self.process is not None
            wait_for_health(
                self.process, self.what, self.health_url, self.start_timeout_s, self.log_path
            )

    @property
    def pid(self) -> int | None:
        """Its process id while it runs."""
        return self.process.pid if self.is_running and self.process is not None else None


class DevStack:
    """Starts and stops the embedded stack under one data folder.

    `child_env` is laid over the environment the API, worker and realtime children get, after
    the stack's own defaults: the demo uses it to pin the brain and the loopback URLs.
    `node_env[i]` is laid over that for realtime node i alone (its capacity, say).

    The stack is started, stopped and restarted from one thread, which must outlive it: Linux
    stops a child when the thread that started it ends (`parent_death_hook`).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        data_dir: Path,
        ports: StackPorts,
        headless: bool = False,
        child_env: Mapping[str, str] | None = None,
        node_env: Sequence[Mapping[str, str]] = (),
    ) -> None:
        self.settings = settings
        self.data_dir = data_dir.resolve()
        self.ports = ports
        self.headless = headless
        self.child_env = dict(child_env or {})
        self.node_env = [dict(env) for env in node_env]
        self.services: list[EmbeddedService] = []
        self.children: dict[str, Child] = {}
        """By name, in the order they start."""
        self.info: StackInfo | None = None
        self.log_dir = self.data_dir / "logs"
        self.dev_key: str | None = None

    @property
    def realtime_ports(self) -> list[int]:
        """The port of every realtime node, the first node's first."""
        return [self.ports.realtime, *self.ports.more_realtime]

    @property
    def realtime_names(self) -> list[str]:
        """The realtime nodes' child names: `realtime`, `realtime-2`…"""
        return [_node_name(index) for index in range(len(self.realtime_ports))]

    @property
    def api_process(self) -> subprocess.Popen[bytes] | None:
        """The API server's process."""
        return self._process("api")

    @property
    def worker_process(self) -> subprocess.Popen[bytes] | None:
        """The Temporal worker's process."""
        return self._process("worker")

    @property
    def realtime_process(self) -> subprocess.Popen[bytes] | None:
        """The first realtime node's process."""
        return self._process("realtime")

    def _process(self, name: str) -> subprocess.Popen[bytes] | None:
        child = self.children.get(name)
        return child.process if child is not None else None

    def check_ports(self) -> None:
        """Fail early, and clearly, when a port the stack needs is taken."""
        check_port_free("127.0.0.1", self.ports.api, "the API", "--api-port")
        check_port_free("127.0.0.1", self.ports.temporal, "Temporal", "--temporal-port")
        check_port_free(
            "127.0.0.1", self.ports.realtime, "the realtime media server", "--realtime-port"
        )
        for port in self.ports.more_realtime:
            check_port_free("127.0.0.1", port, "a realtime media server")
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
        realtime_urls = [f"http://127.0.0.1:{port}" for port in self.realtime_ports]
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "TEMPORAL_ADDRESS": temporal.address,
            "TEMPORAL_NAMESPACE": self.settings.temporal_namespace,
            "CALLWRIGHT_DATA_DIR": str(self.data_dir),
            # Explicit, whatever the parent's environment says: a child must never fall back
            # to a default the stack did not choose.
            "CALLWRIGHT_ENV": self.settings.environment.value,
        }
        env.setdefault("PUBLIC_BASE_URL", api_url)
        # The TwiML the API answers points Twilio's media stream here (a user's tunnel wins).
        env.setdefault("REALTIME_PUBLIC_URL", realtime_urls[0])
        if temporal.ui_url:
            env.setdefault("TEMPORAL_UI_URL", temporal.ui_url)
        env.update(self.child_env)
        # Started first: their models load while the API and the worker come up.
        for index, (port, url) in enumerate(zip(self.realtime_ports, realtime_urls, strict=True)):
            node_env = dict(env)
            if index:
                node_env["REALTIME_PUBLIC_URL"] = url  # each node is reached at its own address
            if index < len(self.node_env):
                node_env.update(self.node_env[index])
            self._add_child(
                _node_name(index),
                "the realtime server" if index == 0 else f"realtime node {index + 1}",
                ["realtime", "--host", "127.0.0.1", "--port", str(port)],
                node_env,
                health_url=f"{url}/health",
                start_timeout_s=REALTIME_START_TIMEOUT_S,
            ).spawn()
        api = self._add_child(
            "api",
            "the API",
            ["api", "--host", "127.0.0.1", "--port", str(self.ports.api)],
            env,
            health_url=f"{api_url}/healthz",
        )
        api.spawn()
        api.wait_healthy()
        self._add_child("worker", "the worker", ["worker"], env).spawn()
        self.dev_key = ensure_dev_key(database_url, self.data_dir / DEV_KEY_FILE)
        for name in self.realtime_names:
            self.children[name].wait_healthy()
        self.info = StackInfo(
            api_url=api_url,
            realtime_url=realtime_urls[0],
            database_url=database_url,
            redis_url=redis_url,
            temporal_address=temporal.address,
            temporal_ui_url=temporal.ui_url,
            pid=os.getpid(),
        )
        (self.data_dir / STACK_FILE).write_text(json.dumps(asdict(self.info), indent=2))
        return self.info

    def _add_child(
        self,
        name: str,
        what: str,
        args: list[str],
        env: dict[str, str],
        *,
        health_url: str | None = None,
        start_timeout_s: float = API_START_TIMEOUT_S,
    ) -> Child:
        child = Child(
            name, what, args, env, self.log_dir / f"{name}.log", health_url, start_timeout_s
        )
        self.children[name] = child
        return child

    def _start_service(self, service: EmbeddedService) -> None:
        started = time.perf_counter()
        self.services.append(service)
        service.start()
        logger.info("%s ready in %.1f s", service.name, time.perf_counter() - started)

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
        order = ["worker", "api", *self.realtime_names]
        return [(name, self.children[name].process) for name in order if name in self.children]

    # -- faults: crash a part, bring it back -----------------------------------------------------

    def child(self, name: str) -> Child:
        """The child called `name` (`api`, `worker`, `realtime`, `realtime-2`…)."""
        try:
            return self.children[name]
        except KeyError:
            raise ServiceError(f"no child {name!r} in this stack") from None

    def service(self, name: str) -> EmbeddedService:
        """The embedded server called `name` (`temporal`, `postgres`, `redis`)."""
        for service in self.services:
            if service.name == name:
                return service
        raise ServiceError(f"no embedded {name} in this stack")

    def kill(self, name: str) -> int:
        """`kill -9` a child and every process it started, as when its machine dies; return its
        exit status."""
        process = self.child(name).process
        if process is None:
            raise ServiceError(f"{name} was never started")
        kill_tree(process.pid)
        return process.wait()

    def terminate(self, name: str) -> None:
        """SIGTERM a child (a deploy: the worker drains, a realtime node hands its calls
        over); `wait_exit` waits for it."""
        child = self.child(name)
        process = child.process
        if process is not None and process.poll() is None:
            child.descendants = descendants(process.pid)
            process.terminate()

    def wait_exit(self, name: str, timeout_s: float) -> int | None:
        """A child's exit status once it has exited (what it left running is stopped), None if
        it runs on after `timeout_s`."""
        child = self.child(name)
        if child.process is None:
            return None
        try:
            code = child.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None
        child.kill_leftovers()
        return code

    def restart(self, name: str) -> None:
        """Start a child that has exited again, as it was started, and wait until it serves."""
        child = self.child(name)
        if child.process is not None:
            child.process.poll()  # reap it, if it has just exited
            child.kill_leftovers()
        child.spawn()
        child.wait_healthy()

    def kill_service(self, name: str) -> None:
        """`kill -9` an embedded server and every process it started (PostgreSQL's backends
        too): no shutdown, no checkpoint; `restart_service` recovers it from its data dir."""
        service = self.service(name)
        pid = service.pid
        if pid is not None:
            kill_tree(pid)
        service.stop()  # reaps the dead process and closes its log

    def restart_service(self, name: str) -> None:
        """Start an embedded server again on the same data dir and port; returns once it
        serves."""
        self.service(name).start()

    def stop(self) -> None:
        """Stop the worker, the API and the realtime servers, then every server, newest first;
        safe to call more than once."""
        children = [self.children[name] for name, _ in self._children()]
        # All at once: the worker's drain and the realtime servers' goodbyes overlap.
        for child in children:
            if child.process is not None and child.process.poll() is None:
                child.descendants = descendants(child.process.pid)
                child.process.terminate()
        for child in children:
            if child.process is None:
                continue
            try:
                child.process.wait(CHILD_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            child.kill_leftovers()
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


def _node_name(index: int) -> str:
    # The first node keeps the name a stack of one has always used (its log is realtime.log).
    return "realtime" if index == 0 else f"realtime-{index + 1}"


@dataclass(frozen=True)
class ProcessId:
    """A process by pid and start time: a pid reused by another process after it is not it."""

    pid: int
    started: int
    """Clock ticks from boot to its start (/proc/<pid>/stat, field 22)."""

    def is_alive(self) -> bool:
        """Whether this very process still exists (and has not been reaped)."""
        return _start_time(self.pid) == self.started

    def kill(self) -> None:
        """SIGKILL it, if it is still this process."""
        if self.is_alive():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it exited just now


def _start_time(pid: int) -> int | None:
    """When `pid` started, None if no such process runs (a zombie has finished running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: the fields follow the last ")".
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[19])


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descended from it that runs now, parents first (Linux /proc;
    elsewhere `pid` alone)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = entry.read_text()
        except OSError:
            continue  # it exited while we looked
        fields = stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry.parent.name))
    tree = [pid]
    for parent in tree:
        tree.extend(children.get(parent, []))
    return tree


def descendants(pid: int) -> list[ProcessId]:
    """The processes `pid` started (and theirs), as they run now."""
    found = [(member, _start_time(member)) for member in process_tree(pid)[1:]]
    return [ProcessId(member, started) for member, started in found if started is not None]


def kill_tree(pid: int) -> None:
    """SIGKILL `pid` and its descendants, the parent first so that none is restarted by it."""
    for member in process_tree(pid):
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass  # it had exited already


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
