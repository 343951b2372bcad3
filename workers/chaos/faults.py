"""The faults `make chaos` injects into a running stack, and the control that injects them.

Every fault is one thing that happens in production: a process killed with no warning
(`kill -9`: an out-of-memory kill, a machine lost), a server restarted hard, a deploy's SIGTERM.
A crashed part stays down a few seconds and is then started again on the same data and port, as
a supervisor would; a drained realtime node is started again once it has exited.

`StackControl` runs the `DevStack` from one thread of its own for the whole run: Linux stops a
child when the thread that started it ends, so a node restarted from a short-lived thread would
die with that thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

import httpx

from workers.stack import DevStack, StackInfo

__all__ = [
    "FAULTS",
    "Fault",
    "FaultError",
    "Injection",
    "StackControl",
    "fault_names",
    "inject",
    "parse_faults",
]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

# A drained node lets its calls finish for REALTIME_DRAIN_S, hands the rest over at a quiet
# moment (up to 5 s each), then waits for their streams to close.
DRAIN_EXIT_MARGIN_S: Final = 60.0
HEALTH_TIMEOUT_S: Final = 5.0

Target = Literal["nothing", "realtime", "worker", "api", "temporal", "postgres"]


class FaultError(Exception):
    """A fault could not be injected, or the part it hit did not come back."""


@dataclass(frozen=True)
class Fault:
    """One fault: what it hits and how."""

    name: str
    target: Target
    """`realtime` means the node holding the most calls."""
    how: Literal["none", "kill9", "sigterm"]
    summary: str

    @property
    def service(self) -> bool:
        """Whether it hits an embedded server rather than a `callwright` child."""
        return self.target in ("temporal", "postgres")


FAULTS: Final = (
    Fault(
        "baseline",
        "nothing",
        "none",
        "no fault: the same calls on a quiet stack, to tell the faults' harm from the calls' own",
    ),
    Fault(
        "realtime-kill9",
        "realtime",
        "kill9",
        "kill -9 the realtime node holding the calls; the other node takes them over",
    ),
    Fault("worker-kill9", "worker", "kill9", "kill -9 the Temporal worker"),
    Fault("api-kill9", "api", "kill9", "kill -9 the API"),
    Fault(
        "temporal-restart",
        "temporal",
        "kill9",
        "kill -9 the Temporal dev server, start it again on the same database file",
    ),
    Fault(
        "postgres-restart",
        "postgres",
        "kill9",
        "kill -9 PostgreSQL and its backends, start it again on the same data (crash recovery)",
    ),
    Fault(
        "realtime-sigterm",
        "realtime",
        "sigterm",
        "SIGTERM the realtime node holding the calls (a deploy): it drains, the other node "
        "takes the calls over",
    ),
)


def parse_faults(text: str | None) -> list[Fault]:
    """The faults named in a comma-separated list, in its order (every fault for None or "").

    Raises ValueError naming an unknown fault and the known ones."""
    if not text or not text.strip():
        return list(FAULTS)
    by_name = {fault.name: fault for fault in FAULTS}
    chosen: list[Fault] = []
    for name in (part.strip() for part in text.split(",")):
        if not name:
            continue
        if name not in by_name:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(by_name)}")
        chosen.append(by_name[name])
    if not chosen:
        raise ValueError("no fault named")
    return chosen


@dataclass(frozen=True)
class Injection:
    """What was done: to which part, with how many calls on it, and when it was back."""

    fault: Fault
    part: str
    """The child or server hit (`realtime-2`, `postgres`…)."""
    calls_on_part: int | None
    """Calls the realtime node held when it was hit (None for other parts)."""
    exit_code: int | None
    down_s: float
    """From the fault to the part serving again."""

    def describe(self) -> str:
        """In words, for the report."""
        if self.fault.how == "none":
            return "no fault injected"
        held = ""
        if self.calls_on_part is not None:
            plural = "" if self.calls_on_part == 1 else "s"
            held = f" ({self.calls_on_part} call{plural} on it)"
        code = "" if self.exit_code is None else f", exit code {self.exit_code}"
        how = "kill -9" if self.fault.how == "kill9" else "SIGTERM"
        return f"{how} {self.part}{held}{code}; serving again after {self.down_s:.0f} s"


class StackControl:
    """A `DevStack`, started, crashed and restarted from one thread that lives as long as it."""

    def __init__(self, stack: DevStack) -> None:
        self.stack = stack
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stack-control")

    async def _run(self, function: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    async def start(self) -> StackInfo:
        """Start the stack (minutes: each realtime node loads its models)."""
        return await self._run(self.stack.start)

    async def stop(self) -> None:
        """Stop everything, then the control thread."""
        try:
            await self._run(self.stack.stop)
        finally:
            self._thread.shutdown(wait=False)

    async def node_calls(self) -> dict[str, int]:
        """Live calls per running realtime node, from its `/health`."""
        found: dict[str, int] = {}
        async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT_S) as http:
            for name in self.stack.realtime_names:
                child = self.stack.child(name)
                if not child.is_running or child.health_url is None:
                    continue
                try:
                    health = (await http.get(child.health_url)).json()
                except (httpx.HTTPError, ValueError):
                    continue
                found[name] = int(health.get("active_calls", 0))
        return found

    async def busiest_node(self) -> tuple[str, int]:
        """The realtime node holding the most calls, and how many."""
        calls = await self.node_calls()
        if not calls:
            raise FaultError("no realtime node answers its health check")
        name = max(calls, key=lambda n: (calls[n], -self.stack.realtime_names.index(n)))
        return name, calls[name]

    async def kill(self, name: str) -> int:
        """`kill -9` a child and its processes; its exit status."""
        return await self._run(self.stack.kill, name)

    async def terminate(self, name: str, timeout_s: float) -> int | None:
        """SIGTERM a child and wait for it to exit; its exit status (None: still running)."""
        await self._run(self.stack.terminate, name)
        return await self._run(self.stack.wait_exit, name, timeout_s)

    async def restart(self, name: str) -> None:
        """Start a child again and wait until it serves."""
        await self._run(self.stack.restart, name)

    async def kill_service(self, name: str) -> None:
        """`kill -9` an embedded server and its processes."""
        await self._run(self.stack.kill_service, name)

    async def restart_service(self, name: str) -> None:
        """Start an embedded server again on its data."""
        await self._run(self.stack.restart_service, name)

    async def revive(self) -> list[str]:
        """Start again every part found dead (a casualty of a fault aimed elsewhere); their
        names."""
        revived: list[str] = []
        for name in list(self.stack.children):
            if not self.stack.child(name).is_running:
                await self.restart(name)
                revived.append(name)
        for service in list(self.stack.services):
            if not service.is_running:
                await self.restart_service(service.name)
                revived.append(service.name)
        return revived

    def dead(self) -> list[str]:
        """Parts that are not running now."""
        children = [n for n, c in self.stack.children.items() if not c.is_running]
        return children + [s.name for s in self.stack.services if not s.is_running]


async def inject(
    fault: Fault, control: StackControl, *, down_s: float, drain_s: float
) -> Injection:
    """Inject `fault` and bring the part back; returns once it serves again."""
    if fault.how == "none":
        return Injection(fault, fault.target, None, None, 0.0)
    began = time.monotonic()
    calls_on: int | None = None
    exit_code: int | None = None
    if fault.target == "realtime":
        part, calls_on = await control.busiest_node()
    else:
        part = fault.target
    logger.info("%s: hitting %s", fault.name, part)
    if fault.service:
        await control.kill_service(part)
        await asyncio.sleep(down_s)
        await control.restart_service(part)
    elif fault.how == "kill9":
        exit_code = await control.kill(part)
        await asyncio.sleep(down_s)
        await control.restart(part)
    else:
        exit_code = await control.terminate(part, drain_s + DRAIN_EXIT_MARGIN_S)
        if exit_code is None:
            raise FaultError(
                f"{part} had not exited {drain_s + DRAIN_EXIT_MARGIN_S:.0f} s after SIGTERM"
            )
        await control.restart(part)
    down = time.monotonic() - began
    logger.info("%s: %s serving again after %.1f s", fault.name, part, down)
    return Injection(fault, part, calls_on, exit_code, down)


def fault_names(faults: Sequence[Fault]) -> str:
    """The faults as `--faults` takes them."""
    return ",".join(f.name for f in faults)
