"""What every embedded server shares: the errors, port helpers and the EmbeddedService base class.

The package docstring (workers/services/__init__.py) explains how the servers run and lists the
exceptions.
"""

from __future__ import annotations

import errno
import importlib.util
import logging
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar, Self

import port_for

from core.processes import die_with_parent_hook

__all__ = [
    "DEFAULT_START_TIMEOUT",
    "LOOPBACK",
    "EmbeddedService",
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


# Ports handed out by this process, so two services of one stack never get the same one.
_handed_out: set[int] = set()


def find_free_port() -> int:
    """Return a loopback TCP port that is free now and outside the kernel's ephemeral range.

    A port the OS picks with bind(0) is an ephemeral one: by the time the server that is handed
    it starts, an outgoing connection may be using it as its source port (a stack starting on a
    busy machine saw exactly that). port_for picks among unassigned ports outside that range.
    """
    port = port_for.select_random(exclude_ports=_handed_out)
    _handed_out.add(port)
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


def parent_death_hook(sig: signal.Signals) -> Callable[[], None] | None:
    """A preexec_fn asking Linux to send `sig` to the child when the thread that started it dies:
    a SIGTERM or SIGKILL of our process stops the servers too, even when no cleanup runs."""
    return die_with_parent_hook(sig)


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
                preexec_fn=parent_death_hook(self._stop_signal()),
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
